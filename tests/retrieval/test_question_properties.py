"""Any question text, asked of an ingested corpus: either an Answer whose every quote is the
stored document text at its offsets, or a UsageError saying what is wrong; nothing else."""

from __future__ import annotations

import shutil

import pytest
from hypothesis import HealthCheck, given, settings

from retrieval.engine import Engine
from retrieval.errors import UsageError
from retrieval.ingest.loaders import load_paths
from retrieval.ingest.pipeline import ingest
from retrieval.types import Turn
from tests.support import hostile
from tests.support.seed import SEED_CORPUS

pytestmark = pytest.mark.integration
# The engine is built once per test and only read by the examples.
EXAMPLES = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
# Astral and multi-byte characters before the English sentence: a byte offset taken for a
# character offset would show in its quote.
UNICODE_DOC = ("東京の会議は三日間続いた。😀😀 Der Bürgermeister eröffnete die Brücke.\n\n"
               "Ο Πρωθυπουργός μίλησε στη Βουλή. المؤتمر عقد في القاهرة.\u200b\n\n"
               "The café served crème brûlée to forty guests at the harbour festival. Zero\u2060width joiners stay put.")


@pytest.fixture
def corpus(settings, tmp_path):
    """The seed corpus and a document in several scripts, ingested; source -> text."""
    folder = tmp_path / "docs"
    shutil.copytree(SEED_CORPUS, folder)
    (folder / "unicode.txt").write_text(UNICODE_DOC, encoding="utf-8")
    ingest([str(folder)], "default", settings)
    return {doc.source: doc.text for doc in load_paths([folder])}


@pytest.fixture
def engine(settings, corpus):
    return Engine(settings)


def check(engine: Engine, corpus: dict[str, str], question: str, history=()) -> None:
    stripped = question.strip()
    try:
        answer = engine.answer(question, history=history)
    except UsageError as exc:
        assert not stripped or len(stripped) > engine.settings.max_question_chars, f"refused a fair question: {exc}"
        return
    assert stripped and len(stripped) <= engine.settings.max_question_chars
    assert answer.question == stripped
    assert answer.abstained == (not answer.citations)
    assert len(answer.citations) <= engine.settings.max_citations
    for c in answer.citations:
        assert c.quote == corpus[c.source][c.start : c.end] and c.quote.strip()
    for p in answer.passages:
        assert p.text == corpus[p.source][p.start : p.end]
    if not answer.abstained:
        assert answer.answer == answer.citations[0].quote


@EXAMPLES
@given(question=hostile.questions)
def test_any_question_gets_a_verbatim_answer_or_a_usage_error(engine, corpus, question):
    check(engine, corpus, question)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(question=hostile.questions, earlier=hostile.questions.map(lambda q: q.strip()[:1000] or "earlier"))
def test_any_follow_up_question_gets_a_verbatim_answer_or_a_usage_error(engine, corpus, question, earlier):
    check(engine, corpus, question, history=[Turn(earlier)])


@EXAMPLES
@given(question=hostile.questions)
def test_validate_refuses_exactly_the_empty_and_the_too_long(engine, question):
    stripped = question.strip()
    if stripped and len(stripped) <= engine.settings.max_question_chars:
        assert engine.validate(question) == stripped
    else:
        with pytest.raises(UsageError, match="empty|limit"):
            engine.validate(question)


def test_answers_quote_text_in_other_scripts_exactly(engine, corpus):
    question = "How many guests did the café serve at the harbour festival?"
    answer = engine.answer(question)
    assert answer.citations[0].source.endswith("unicode.txt")
    assert answer.citations[0].quote == "The café served crème brûlée to forty guests at the harbour festival."
    check(engine, corpus, question)


@pytest.mark.parametrize("question, shown", [("What did \udcff Shoigu ask?", "What did \ufffd Shoigu ask?"),
                                             ("\ud800", "\ufffd")])
def test_a_lone_surrogate_in_a_question_is_read_as_a_replacement_character(engine, corpus, question, shown):
    """`qa ask $'\\xff'` or a JSON escape can carry one; the tokenizer cannot."""
    answer = engine.answer(question)
    assert answer.question == shown
    for c in answer.citations:
        assert c.quote == corpus[c.source][c.start : c.end]
