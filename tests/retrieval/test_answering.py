"""Cited answers on the seed corpus and on real SQuAD data (development sets only)."""

import json

import pytest

from retrieval.chain import Engine, build_chain
from retrieval.errors import CorpusNotFound, UsageError
from retrieval.evaluation import contains_answer, evaluate, load_questions
from retrieval.ingest import ingest
from retrieval.types import Answer
from tests.conftest import EVAL_DIR, SEED_CORPUS, SEED_FILE, SHOIGU_SENTENCE as SHOIGU_SENTENCE_START

pytestmark = pytest.mark.integration

SEED_QUESTIONS = [json.loads(line) for line in (EVAL_DIR / "seed_dev.jsonl").read_text().splitlines() if line.strip()]


@pytest.fixture
def engine(settings):
    ingest([str(SEED_CORPUS)], "default", settings)
    return Engine(settings)


@pytest.mark.parametrize("item", SEED_QUESTIONS, ids=[q["id"] for q in SEED_QUESTIONS])
def test_seed_questions(engine, item):
    answer = engine.answer(item["question"])
    if not item["answerable"]:
        assert answer.abstained and answer.citations == []
        assert "does not cover" in answer.answer
        return
    assert not answer.abstained
    assert any(e in answer.citations[0].quote for e in item["expect"])


def test_quotes_are_verbatim_and_at_most_three(engine):
    text = SEED_FILE.read_text(encoding="utf-8")
    for item in SEED_QUESTIONS:
        answer = engine.answer(item["question"])
        assert len(answer.citations) <= 3
        for c in answer.citations:
            assert text[c.start : c.end] == c.quote
        for p in answer.passages:
            assert text[p.start : p.end] == p.text


def test_the_chain_is_one_runnable_taking_a_string_or_a_dict(settings, engine):
    chain = build_chain(settings, engine)
    by_string = chain.invoke("What did Shoigu ask Wallace?")
    by_dict = chain.invoke({"question": "What did Shoigu ask Wallace?", "corpus": "default"})
    assert isinstance(by_string, Answer) and by_string == by_dict
    assert len(chain.batch(["What would Russia like to avoid?", "What is the population of Moscow?"])) == 2


@pytest.mark.parametrize("question", ["", "   \n", "x" * 5000])
def test_empty_or_huge_questions_are_refused(engine, question):
    with pytest.raises(UsageError):
        engine.answer(question)


def test_a_corpus_never_ingested_is_named_in_the_error(engine):
    with pytest.raises(CorpusNotFound, match="qa ingest PATH --corpus elsewhere"):
        engine.answer("What did Shoigu ask Wallace?", corpus="elsewhere")


def test_squad_development_quality(settings):
    """The issue's bar on the first five SQuAD 2.0 articles (answerable questions), plus
    abstention on questions about another corpus entirely."""
    squad = EVAL_DIR / "squad-v2.0-dev-first5.json"
    ingest([str(squad)], "squad", settings)
    engine = Engine(settings)
    answerable = [q for q in load_questions(squad) if q.answerable]
    metrics = evaluate(answerable, lambda q: engine.answer(q, corpus="squad"))
    assert metrics["quote_accuracy"] >= 0.80
    assert metrics["recall@5"] >= 0.98
    assert metrics["false_abstention"] < 0.03
    off_topic = [engine.answer(item["question"], corpus="squad") for item in SEED_QUESTIONS]
    assert all(a.abstained for a in off_topic)


def test_contains_answer_follows_squad_normalisation():
    assert contains_answer("The Normans were in France.", ["normans"])
    assert contains_answer("It cost $5, roughly.", ["$5"])
    assert not contains_answer("Nothing here.", ["Normans"])


def test_a_running_engine_survives_its_corpus_being_removed_and_re_ingested(settings, engine):
    from retrieval.store import open_client, remove_corpus

    assert not engine.answer("What did Shoigu ask Wallace?").abstained
    remove_corpus(open_client(settings), settings, "default")
    ingest([str(SEED_CORPUS)], "default", settings)
    assert SHOIGU_SENTENCE_START in engine.answer("What did Shoigu ask Wallace?").citations[0].quote


def test_many_first_questions_at_once_on_a_cold_engine(settings):
    from concurrent.futures import ThreadPoolExecutor

    ingest([str(SEED_CORPUS)], "default", settings)
    cold = Engine(settings)
    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(lambda _: cold.answer("What did Shoigu ask Wallace?"), range(16)))
    assert all(SHOIGU_SENTENCE_START in a.citations[0].quote for a in answers)
