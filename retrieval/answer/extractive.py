"""Extractive answerer: the shortest span (one or two sentences) of the retrieved passages
that answers the question, quoted verbatim with its offsets, or an honest abstention.

Each candidate sentence is scored on the cosine between its stored vector and the
question's, the share of the question's terms it holds (each weighted by its IDF in the
corpus and among the candidates: a word every candidate holds tells them apart less), the
same share for the sentence with its neighbours, how closely the best few say the
question's words by meaning (alignment.py), and whether it holds the kind of thing the
question asks for (kinds.py). Whether to answer at all is a separate decision: a logistic
model over signals that mean the same in any corpus (`abstention_features`), which weigh
terms by corpus IDF alone. Weights and thresholds
were chosen with bench/tune_answerer.py on the development parts of the sets in bench/sets/,
the seed questions and the first five SQuAD 2.0 articles; the held-out parts never were.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass

import numpy as np
from langchain_core.documents import Document
from pydantic import BaseModel, Field

from ..injection import looks_like_injection
from ..search.embeddings import SentenceEmbeddings
from ..search.lexical import LexicalIndex, phrase_coverage, terms
from ..search.model_parts import MPNET
from ..search.retriever import passage_sentences
from ..store.corpus import CorpusStore, sentence_id
from ..types import Answer, Citation, RetrievedPassage, Span
from .alignment import matches, question_words, weighted_share
from .kinds import (
    DATE,
    NAME,
    NUMBER,
    continues,
    describes_more_fully,
    expected_kind,
    holds_kind,
    inner_names,
    name_phrases,
    negated,
    opens_with_anaphor,
    opens_with_pronoun,
    refers_to_asked,
    speaker,
)
from .quotes import focus

ABSTAIN_TEXT = "The corpus does not cover this question: no passage in '{corpus}' answers it."


class AnswerSettings(BaseModel):
    """Chosen with bench/tune_answerer.py on the development parts of the sets only."""

    lexical_weight: float = Field(0.8, ge=0, description="Weight of term coverage beside the cosine.")
    context_weight: float = Field(0.2, ge=0, description="Weight of the coverage by the sentence and its neighbours.")
    context_sentences: int = Field(2, ge=0, le=5, description="Neighbours on each side that count as context.")
    type_weight: float = Field(0.2, ge=0, description="Bonus for holding what the question asks for (a name, number, date).")
    phrase_weight: float = Field(0.1, ge=0, description="Weight of the question's word pairs held in the same order.")
    rank_weight: float = Field(0.0, ge=0, description="Bonus for sentences of better-ranked passages.")
    align_weight: float = Field(0.5, ge=0, description="Weight of how closely the sentence says the question's words by meaning.")
    align_context_weight: float = Field(0.5, ge=0, description="The same for the sentence with the neighbours next to it.")
    # The best sentences by the other signals are aligned, with their neighbours: on the
    # development sets 3 did as well as 4 or all (~25 a question; 2 lost a news question and
    # 0.3 points of SQuAD), at about 2 ms of one core a sentence.
    align_candidates: int = Field(3, ge=0, description="Sentences aligned with the question, each with its neighbours.")
    # "How good is cooperation, according to Shoigu?": a quotation names its speaker once, at
    # its end, or by a title ("the Russian defence chief"); the speaker's name says whose
    # words, not which of them.
    speaker_weight: float = Field(0.5, ge=0, description="Factor on the weight of the words naming whose statement is asked about.")
    # Answer when the abstention model (a logistic regression over `abstention_features`,
    # fitted on the development sets) gives at least this probability that it can: the
    # highest threshold with at most 3% false abstention in every large development group
    # (set x alone/mixed) and none in the paraphrases of the shipped article (issue 10's
    # bound), less a safety margin of 0.01 (bench/tune_answerer.py says why). Fitted, it
    # refused 15.5% of SQuAD 2.0's unanswerable development questions (15.4% mixed).
    abstain_weights: dict[str, float] = Field(default_factory=lambda: dict(ABSTAIN_WEIGHTS))
    min_answerable: float = Field(0.29)
    # Quote the neighbouring sentence too when it scores this close to the best one.
    pair_ratio: float = Field(0.5, ge=0, le=2)  # above 1: never quote a pair
    max_quote_chars: int = Field(400, ge=50)
    other_citation_ratio: float = Field(0.85, ge=0, le=1)

    @classmethod
    def for_model(cls, model: str) -> "AnswerSettings":
        """What was fitted for the embedding model `model` (its cosines are its own); the
        bundled model's for any other."""
        return cls(**MODEL_FITS.get(model, {}))


# Fitted by bench/tune_answerer.py --fit on the development parts (bias under "bias").
ABSTAIN_WEIGHTS = {"bias": -6.614, "aligned": 0.956, "covered": 1.087, "dense": 4.269, "known": 0.176, "known_lexical": 1.22,
                   "margin": 1.421, "negation_unmatched": -4.483, "typed": 1.975, "unknown_name": -4.221}
# With QA_EMBED_MODEL=all-mpnet-base-v2: the abstention fitted the same way, its threshold
# chosen the same way, and the other weights the bundled model's; refitted 2026-12-07 when
# "typed" came to read the sentences a quote comes from. It leaves the alignment off: with no
# int8 copy of that model, aligning would cost several times as much.
MODEL_FITS = {
    MPNET: {"abstain_weights": {"bias": -6.488, "covered": 1.413, "dense": 5.124, "known": 0.136, "known_lexical": 1.099,
                                "margin": 1.821, "negation_unmatched": -4.265, "typed": 1.803, "unknown_name": -2.304},
            "min_answerable": 0.25, "align_candidates": 0},
}


@dataclass
class Candidate:
    passage: Document
    rank: int
    span: Span
    text: str
    dense: float
    lexical: float  # share of the question's terms the sentence holds, weighted by IDF in the corpus and among the candidates
    context: float = 0.0  # the same, for the sentence with its neighbours in the passage
    # The same two by corpus IDF alone: whether the corpus answers at all is a question about
    # the corpus (the abstention, fitted on these); which sentence answers, one among them.
    corpus_lexical: float = 0.0
    corpus_context: float = 0.0
    phrase: float = 0.0  # share of the question's adjacent term pairs the sentence holds adjacent
    # How closely it says the question's words by meaning (alignment.py), weighted as
    # `lexical`; with the neighbours next to it; and that by corpus IDF, for the abstention.
    # 0 for the sentences not aligned.
    aligned: float = 0.0
    aligned_context: float = 0.0
    corpus_aligned_context: float = 0.0
    known_lexical: float = 0.0  # share of the question's terms the corpus knows that the sentence holds
    question_known: float = 0.0  # share of the question's terms the corpus knows at all (same for every candidate)
    unknown_name: float = 0.0  # 1 when the question names something the corpus never mentions (same for every candidate)
    typed: bool = False  # holds something of the kind the question asks for
    score: float = 0.0
    index: int = 0  # position among the candidates of its passage


class ExtractiveAnswerer:
    def __init__(self, store: CorpusStore, settings: AnswerSettings | None = None, max_citations: int = 3,
                 embeddings: SentenceEmbeddings | None = None):
        """`embeddings`: the model whose token vectors align the question with the best
        sentences; without it nothing is aligned."""
        self.store = store
        self.settings = settings or AnswerSettings()
        self.max_citations = max_citations
        self.embeddings = embeddings

    def answer(self, question: str, question_vector: np.ndarray, passages: list[Document],
               lexical: LexicalIndex, exclude: list[tuple[str, int, int]] = ()) -> Answer:
        """`exclude`: (source, start, end) spans already quoted in this conversation."""
        retrieved = [
            RetrievedPassage(p.metadata["source"], p.metadata["start"], p.metadata["end"], p.page_content, round(p.metadata["score"], 6))
            for p in passages
        ]
        candidates = [
            c for c in self.candidates(question, question_vector, passages, lexical)
            if not any(src == c.passage.metadata["source"] and c.span.start < end and start < c.span.end for src, start, end in exclude)
        ]
        quotes = self.select(candidates, question)
        if not quotes:
            return Answer(question=question, answer=ABSTAIN_TEXT.format(corpus=self.store.corpus), abstained=True, passages=retrieved)
        coverage = lexical.coverage(question)
        citations = [self._citation(quote, coverage) for quote in quotes]
        return Answer(question=question, answer=citations[0].quote, abstained=False, citations=citations, passages=retrieved)

    def select(self, candidates: list[Candidate], question: str) -> list[list[Candidate]]:
        """Scores the candidates; returns the quotes to cite, best first, or [] to abstain."""
        s = self.settings
        if not candidates or answerable_probability(abstention_features(candidates, question, s), s) < s.min_answerable:
            return []
        for c in candidates:
            c.score = relevance(c, s) + s.type_weight * c.typed + s.rank_weight / (1 + c.rank)
        best = max(candidates, key=lambda c: c.score)
        if expected_kind(question) == NAME and (
                (not best.typed and opens_with_anaphor(best.text, question)) or refers_to_asked(best.text, question)):
            # "The company said ...": the name is before it, not in whatever follows.
            quotes = self._with_antecedent(best, candidates)
        else:
            quotes = [self._quote(best, candidates)]
        for other in sorted(candidates, key=lambda c: c.score, reverse=True):
            if len(quotes) >= self.max_citations or other.score < s.other_citation_ratio * best.score:
                break
            if not any(_overlaps(other, q) for q in quotes):
                quotes.append([other])
        return quotes[: self.max_citations]  # a name cited apart from its sentence makes two

    def candidates(self, question: str, vector: np.ndarray, passages: list[Document], lexical: LexicalIndex) -> list[Candidate]:
        # Whose words are asked about weighs less in choosing which of them (AnswerSettings.speaker_weight).
        muted = {t: self.settings.speaker_weight for t in terms(speaker(question))}
        phrases = phrase_coverage(question, muted)
        retrieved = tuple(p.page_content for p in passages)
        known, known_coverage = lexical.known_coverage(question, retrieved)
        unknown_name = lexical.unknown_names(question, retrieved)
        kind = expected_kind(question)
        reach = self.settings.context_sentences
        seen: dict[str, Candidate] = {}
        order: list[tuple[str, Candidate, str]] = []  # with the sentence and its neighbours
        sentences = [(passage, passage_sentences(passage)) for passage in passages]
        names = _names_by_source(sentences)
        for rank, (passage, split) in enumerate(sentences):
            meta = passage.metadata
            texts = [text for _, text in split]
            for index, ((start, end), text) in enumerate(split):
                sid = sentence_id(meta["source"], Span(start, end), text)
                if sid in seen or looks_like_injection(text):  # an instruction to a bot is no answer
                    continue
                around = " ".join(texts[max(0, index - reach) : index + reach + 1])
                candidate = Candidate(passage, rank, Span(start, end), text, 0.0, 0.0,
                                      typed=holds_kind(text, kind, question, names[meta["source"]]), index=index)
                candidate.known_lexical, candidate.question_known = known_coverage(around), known
                candidate.phrase = phrases(text)
                candidate.unknown_name = unknown_name
                seen[sid] = candidate
                order.append((sid, candidate, around))
        if not order:
            return []
        texts = [c.text for _, c, _ in order]
        in_corpus, among = lexical.coverage(question), lexical.coverage(question, among=texts, scale=muted)
        vectors = self.store.sentence_vectors([sid for sid, _, _ in order])
        for sid, candidate, around in order:
            candidate.lexical, candidate.context = among(candidate.text), among(around)
            candidate.corpus_lexical, candidate.corpus_context = in_corpus(candidate.text), in_corpus(around)
            if sid in vectors:
                candidate.dense = float(vectors[sid] @ vector)
        candidates = [c for _, c, _ in order]
        self._align(question, candidates, lexical, texts, muted)
        return candidates

    def _align(self, question: str, candidates: list[Candidate], lexical: LexicalIndex, among: list[str],
               muted: dict[str, float]) -> None:
        """Sets the alignment of the best few candidates (by the other signals) and of the
        neighbours next to them, whose words count for their context."""
        if self.embeddings is None or not self.settings.align_candidates:
            return
        best = sorted(candidates, key=lambda c: relevance(c, self.settings), reverse=True)[: self.settings.align_candidates]
        chosen = list({id(c): c for b in best for c in candidates
                       if c.passage is b.passage and abs(c.index - b.index) <= 1}.values())
        tokens = self.embeddings.token_vectors([question] + [c.text for c in chosen])
        words = question_words(question, tokens[0])
        if not words.terms:
            return
        spelled = dict(zip(terms(question), lexical.question_terms(question)))  # typos read as question_terms does
        asked = [spelled.get(t, t) for t in words.terms]
        by_among, by_corpus = lexical.term_weights(asked, among, muted), lexical.term_weights(asked)
        among_weights = np.array([by_among[t] for t in asked])
        corpus_weights = np.array([by_corpus[t] for t in asked])
        found = {id(c): matches(words, t) for c, t in zip(chosen, tokens[1:])}
        for c in chosen:
            around = np.max([found[id(n)] for n in chosen if n.passage is c.passage and abs(n.index - c.index) <= 1], axis=0)
            c.aligned = weighted_share(found[id(c)], among_weights)
            c.aligned_context = weighted_share(around, among_weights)
            c.corpus_aligned_context = weighted_share(around, corpus_weights)

    def _quote(self, best: Candidate, candidates: list[Candidate]) -> list[Candidate]:
        """The best sentence, with a neighbour in the same passage when that one scores nearly
        as well (one going on from it, or that it goes on from, before a better-scoring one),
        or holds the name, number or date the question asks for while the best one does not
        ("The company said ..." after the sentence naming it), or else goes on from it ("It in
        turn evolved into ..."); and only while the pair stays short."""
        neighbours = [
            c for c in candidates
            if c.passage is best.passage and abs(c.index - best.index) == 1
        ]
        if neighbours:
            def linked(c: Candidate) -> bool:  # a continuation joins them: part of what the best one says
                return continues(c.text if c.index > best.index else best.text)

            other = max(neighbours, key=lambda c: (c.typed and not best.typed, linked(c), c.score))
            close = other.score >= self.settings.pair_ratio * best.score
            completes = other.typed and not best.typed
            if not (close or completes):  # the following one first
                other = next((c for c in sorted(neighbours, key=lambda c: c.index < best.index) if linked(c)), None)
            if other is not None:
                span = (min(best.span.start, other.span.start), max(best.span.end, other.span.end))
                if span[1] - span[0] <= self.settings.max_quote_chars:
                    return sorted([best, other], key=lambda c: c.span.start)
        return [best]

    def _with_antecedent(self, best: Candidate, candidates: list[Candidate]) -> list[list[Candidate]]:
        """A "who" or "which" question answered by "The company said ...": the name is in an
        earlier sentence. Quote from that sentence on when the whole stays short, else that
        sentence first and the matching one after it; with no such sentence, as any other."""
        antecedent = self._antecedent(best, candidates)
        if antecedent is None:
            return [self._quote(best, candidates)]
        if antecedent.passage is best.passage and best.span.end - antecedent.span.start <= self.settings.max_quote_chars:
            whole = [antecedent, best]
            if not looks_like_injection(self.quote_text(whole)):  # nothing withheld in between either
                return [whole]
        return [[antecedent], [best]]

    def _antecedent(self, sentence: Candidate, candidates: list[Candidate], reach: int = 3, far: int = 8) -> Candidate | None:
        """The earlier sentence of the same document (this passage, then the one before it)
        that names whom it refers to: the nearest of the `far` before it that holds a name
        the document repeats, else the nearest of the `reach` before it with any name."""
        meta = sentence.passage.metadata
        earlier = [(c.passage, c.span, c.text) for c in sorted(
            (c for c in candidates if c.passage is sentence.passage and c.index < sentence.index),
            key=lambda c: c.index, reverse=True)][:far]
        texts = [c.text for c in candidates if c.passage.metadata["source"] == meta["source"]]
        if len(earlier) < far and meta.get("position", 0) > 0:
            found = self.store.passage_at(meta["source"], meta["position"] - 1)
            if found is not None:
                pid, text, prev_meta = found
                prev_meta = dict(prev_meta, id=pid, score=0.0, sentences=json.loads(prev_meta["sentences"]))
                previous = Document(id=pid, page_content=text, metadata=prev_meta)
                split = [(Span(*span), t) for span, t in passage_sentences(previous) if span[1] <= sentence.span.start]
                earlier += [(previous, span, t) for span, t in reversed(split) if not looks_like_injection(t)][: far - len(earlier)]
                texts += [t for _, t in split]
        names = inner_names(texts)
        phrases = {text: name_phrases(text, names) for text in set(texts)}  # every earlier one among them
        held = [(passage, span, text, phrases[text]) for passage, span, text in earlier]
        chosen = None
        if not opens_with_pronoun(sentence.text):
            # "The company", "the 46-year-old": whom the document is about, a name it
            # repeats ("Ridgeway Rail"), not the union leader quoted once in between. "She"
            # is the person just named.
            counts = Counter(phrase for found in phrases.values() for phrase in found)
            chosen = next((h for h in held if any(counts[phrase] > 1 for phrase in h[3])), None)
        chosen = chosen or next((h for h in held[:reach] if h[3]), None)
        # Nothing named: "The ministry also said ..." stands for "the health ministry" a
        # sentence or two before, the same noun described more fully.
        chosen = chosen or next((h for h in held[:reach] if describes_more_fully(h[2], sentence.text)), None)
        if chosen is None:
            return None
        passage, span, text, _ = chosen
        same = next((c for c in candidates if c.passage is passage and c.span == span), None)
        if same is not None:
            return same
        return Candidate(passage, sentence.rank, span, text, 0.0, 0.0,
                         index=passage.metadata["sentences"].index([span.start, span.end]), typed=True)

    def shown(self, text: str, coverage) -> tuple[int, int]:
        """The part of a quote's text that is shown: a sentence of 600 characters is cut at
        clauses, around those that hold the question's terms."""
        return focus(text, coverage, self.settings.max_quote_chars)

    @staticmethod
    def quote_text(quote: list[Candidate]) -> str:
        """The document's text from the first sentence of `quote` to the end of its last."""
        meta = quote[0].passage.metadata
        return quote[0].passage.page_content[quote[0].span.start - meta["start"] : quote[-1].span.end - meta["start"]]

    def _citation(self, sentences: list[Candidate], coverage) -> Citation:
        meta = sentences[0].passage.metadata
        text = self.quote_text(sentences)
        start, end = self.shown(text, coverage)
        return Citation(
            corpus=self.store.corpus,
            source=meta["source"],
            title=meta.get("title", ""),
            date=meta.get("date"),
            start=sentences[0].span.start + start,
            end=sentences[0].span.start + end,
            quote=text[start:end],
            score=round(max(c.score for c in sentences), 6),
        )


def _names_by_source(sentences: list[tuple[Document, list]]) -> dict[str, frozenset[str]]:
    texts: dict[str, list[str]] = {}
    for passage, split in sentences:
        texts.setdefault(passage.metadata["source"], []).extend(text for _, text in split)
    return {source: inner_names(found) for source, found in texts.items()}


def relevance(c: Candidate, s: AnswerSettings, by_corpus: bool = False) -> float:
    """`by_corpus`: with the terms weighted by corpus IDF alone, as the abstention reads them
    (it reads the alignment as a signal of its own)."""
    if by_corpus:
        return c.dense + s.lexical_weight * c.corpus_lexical + s.context_weight * c.corpus_context + s.phrase_weight * c.phrase
    return (c.dense + s.lexical_weight * c.lexical + s.context_weight * c.context + s.phrase_weight * c.phrase
            + s.align_weight * c.aligned + s.align_context_weight * c.aligned_context)


def abstention_features(candidates: list[Candidate], question: str, s: AnswerSettings | None = None) -> dict[str, float]:
    """Signals of whether the retrieved sentences answer the question at all, chosen to mean
    the same in any corpus: similarities and shares of the question's terms, never raw
    scores that grow with the corpus."""
    s = s or AnswerSettings()
    ranked = sorted(candidates, key=lambda c: relevance(c, s, by_corpus=True), reverse=True)
    best = ranked[0]
    # The sentences a quote would be taken from, by the quote choice's relevance (terms weighed
    # among the candidates too, and aligned; not its bonus for the kind itself, which this
    # signal is about): for "Which show follows three generations of a
    # fishing family?", 'The long-running drama "Harbor Lights" will end ...' is among them,
    # not among the best by corpus IDF alone.
    quoted = sorted(candidates, key=lambda c: relevance(c, s), reverse=True)[:3]
    runner_up = next((c for c in ranked[1:] if c.passage is not best.passage), None)
    return {
        "dense": max(c.dense for c in candidates),
        # How far the best passage stands out: a question about something else finds many
        # sentences that each match a word or two.
        "margin": relevance(best, s, by_corpus=True) - (relevance(runner_up, s, by_corpus=True) if runner_up else 0.0),
        "known": best.question_known,
        "known_lexical": max(c.known_lexical for c in candidates),
        # Both at once: "How do I reset my laptop password?" asked of news that mention
        # passwords covers its one known term fully, but only a third of what it asks.
        "covered": best.question_known * max(c.known_lexical for c in candidates),
        # Said by meaning: "What is the population of Japan?" and "the national instrument of
        # Japan" share the rare word, not what is asked about it.
        "aligned": max(c.corpus_aligned_context for c in candidates),
        "unknown_name": best.unknown_name,
        # A "how many" question whose best sentences hold no number is probably not answered.
        # Not a title: "What position does Von Miller play?" is answered by "linebacker".
        "typed": float(any(c.typed for c in quoted)) if expected_kind(question) in (NAME, NUMBER, DATE) else 1.0,
        # "Who did not ...?" answered by sentences that deny nothing: they say what did happen.
        "negation_unmatched": float(negated(question) and not any(negated(c.text) for c in ranked[:3])),
    }


def answerable_probability(features: dict[str, float], s: AnswerSettings) -> float:
    weights = s.abstain_weights
    z = weights.get("bias", 0.0) + sum(weights.get(name, 0.0) * value for name, value in features.items())
    return float(1 / (1 + np.exp(-z)))


def _overlaps(candidate: Candidate, quote: list[Candidate]) -> bool:
    source = candidate.passage.metadata["source"]
    return any(
        c.passage.metadata["source"] == source and candidate.span.start < c.span.end and c.span.start < candidate.span.end
        for c in quote
    )
