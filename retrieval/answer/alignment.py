"""How well a sentence says what the question asks, word by word and by meaning.

Term coverage counts a question's words only where a sentence holds them, or another form
of them; a paraphrase shares few ("Who does Shoigu say is not to blame?" / "by no fault of
Moscow"). Here each of the question's words is matched with the sentence's closest token:
the cosine of the embedding model's contextual token vectors, as BERTScore does, so
"blame" finds "fault" and "founded" does not find the verb in "the court found". The
matches are weighed like term coverage (IDF), so the question's rare words count most.

Only the few best sentences are aligned (ExtractiveAnswerer.candidates says which): each
costs a run of the model, about a millisecond here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..search.lexical import terms
from ..search.onnx_encoder import TokenVectors


@dataclass(frozen=True)
class QuestionWords:
    """The question's content words: each one's term (stemmed, as the lexical index counts
    it) and where its tokens' vectors start and end in `vectors`."""

    terms: tuple[str, ...]
    bounds: tuple[tuple[int, int], ...]
    vectors: np.ndarray


def question_words(question: str, tokens: TokenVectors) -> QuestionWords:
    """The words of `question` that are not stop words, from its token vectors. A word is
    a run of tokens that touch and are letters or digits: the tokeniser splits at spaces
    and punctuation, then into word pieces ("found", "##ed"); "Shoigu's" is "Shoigu", "'"
    and "s"."""
    words: list[list[int]] = []
    for i, (start, _) in enumerate(tokens.spans):
        previous = tokens.spans[i - 1][1] if i else -1
        if words and start == previous and question[start].isalnum() and question[previous - 1].isalnum():
            words[-1].append(i)
        else:
            words.append([i])
    kept = []
    for rows in words:
        term = terms(question[tokens.spans[rows[0]][0] : tokens.spans[rows[-1]][1]])
        if term:
            kept.append((term[0], rows))
    bounds, at = [], 0
    for _, rows in kept:
        bounds.append((at, at + len(rows)))
        at += len(rows)
    rows = [r for _, word in kept for r in word]
    return QuestionWords(tuple(t for t, _ in kept), tuple(bounds), tokens.vectors[rows])


def matches(words: QuestionWords, sentence: TokenVectors) -> np.ndarray:
    """Per question word, how closely the sentence says it: the mean over the word's tokens
    of each one's best cosine with a token of the sentence."""
    if not words.terms or not len(sentence.vectors):
        return np.zeros(len(words.terms), np.float32)
    best = (words.vectors @ sentence.vectors.T).max(axis=1)
    return np.array([best[a:b].mean() for a, b in words.bounds], np.float32)


def weighted_share(scores: np.ndarray, weights: np.ndarray) -> float:
    total = float(weights.sum())
    return float(scores @ weights) / total if total > 0 else 0.0
