"""The abstention rule of the extractive answerer, without a model or a store: the decision
is the fitted probability against `AnswerSettings.min_answerable`."""

from dataclasses import replace

import pytest
from langchain_core.documents import Document

import retrieval.answer.extractive as extractive
from retrieval.answer.extractive import AnswerSettings, Candidate, ExtractiveAnswerer
from retrieval.types import Span

TEXT = "Shoigu asked Wallace to explain the deployment. Wallace said the talks were frank."


def candidates() -> list[Candidate]:
    passage = Document(page_content=TEXT, metadata={"source": "a.txt", "start": 0, "end": len(TEXT), "score": 1.0})
    first, second = TEXT.split(". ")
    return [Candidate(passage, 0, Span(0, len(first) + 1), first + ".", 0.6, 0.5, index=0),
            Candidate(passage, 0, Span(len(first) + 2, len(TEXT)), second, 0.3, 0.1, index=1)]


@pytest.mark.parametrize("probability, answers", [(0.15, False), (0.2, False), (0.28, False), (0.29, True), (0.9, True)])
def test_the_threshold_is_the_one_fitted_at_three_percent_false_abstention(monkeypatch, probability, answers):
    """bench/tune_answerer.py --fit: the highest threshold with at most 3% false abstention in
    each large development group and none on the paraphrases, less a safety margin of 0.01,
    is 0.29, which refuses 15.5% of SQuAD 2.0's unanswerable development questions."""
    monkeypatch.setattr(extractive, "answerable_probability", lambda features, settings: probability)
    answerer = ExtractiveAnswerer(store=None, settings=AnswerSettings())
    quotes = answerer.select(candidates(), "What did Shoigu ask Wallace?")
    assert bool(quotes) is answers
    if answers:
        assert quotes[0][0].text.startswith("Shoigu asked Wallace")


def test_the_kind_asked_for_is_looked_for_in_the_sentences_the_quote_would_come_from():
    """"When ...?" with no date among the best three sentences by corpus IDF alone, but one in
    a sentence the quote choice ranks among its best three (by meaning, here): the
    abstention reads that the asked-for kind is there."""
    passage = Document(page_content=TEXT, metadata={"source": "a.txt", "start": 0, "end": len(TEXT), "score": 1.0})
    words = [Candidate(passage, 0, Span(i, i + 1), f"Sentence {i}.", 0.5, 0.5, corpus_lexical=0.5, index=i) for i in range(3)]
    dated = Candidate(passage, 0, Span(3, 4), "It takes effect in August.", 0.3, 0.0, aligned=0.9, aligned_context=0.9,
                      typed=True, index=3)
    features = extractive.abstention_features([*words, dated], "When will the ban come into force?")
    assert features["typed"] == 1.0
    assert extractive.abstention_features([*words, replace(dated, aligned=0.0, aligned_context=0.0)],
                                          "When will the ban come into force?")["typed"] == 0.0
