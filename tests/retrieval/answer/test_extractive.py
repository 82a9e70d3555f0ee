"""Cited answers on the seed corpus and on real SQuAD data (development sets only)."""

import json

import pytest

from retrieval.engine import Engine, build_chain
from retrieval.errors import CorpusNotFound, UsageError
from retrieval.evaluation import contains_answer, evaluate, load_questions
from retrieval.ingest.pipeline import ingest
from retrieval.types import Answer
from tests.support.seed import EVAL_DIR, ROOT, SEED_CORPUS, SEED_FILE
from tests.support.seed import SHOIGU_SENTENCE as SHOIGU_SENTENCE_START

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


@pytest.mark.parametrize("question", ["What did Shoigu ask Wallce?", "What is Kyiv being gorged with?"])
def test_a_name_typed_wrong_or_transliterated_otherwise_is_answered_as_the_article_spells_it(engine, question):
    # "Wallce": a letter wrong; "Kyiv": the article writes "Kiev". Either had been refused as
    # a name the corpus never mentions.
    answer = engine.answer(question)
    assert not answer.abstained and SHOIGU_SENTENCE_START in answer.citations[0].quote


@pytest.mark.parametrize("question", ["According to the article, what position does Valery Gerasimov hold?",
                                      "What position does Valery Gerasimov hold, based on the document?",
                                      "Hi! Can you tell me what position Valery Gerasimov holds? Thanks"])
def test_a_question_asked_politely_or_naming_the_corpus_is_answered_as_without_those_words(engine, question):
    # "article", "document", "tell", "thanks": words the article never uses. Read as terms,
    # they had this question refused as one about something else.
    answer = engine.answer(question)
    assert not answer.abstained and "Chief of Russian General Staff" in answer.citations[0].quote
    assert answer.question == question  # shown as asked


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
    assert metrics["quote_accuracy"] >= 0.82
    assert metrics["recall@5"] >= 0.98
    assert metrics["false_abstention"] <= 0.03
    # SQuAD 2.0's unanswerable questions are written to look answerable from the very
    # paragraph; the abstention model refuses some of them (3.7% before it).
    unanswerable = evaluate([q for q in load_questions(squad) if not q.answerable][:300],
                            lambda q: engine.answer(q, corpus="squad"))
    assert unanswerable["abstention_unanswerable"] >= 0.10
    off_topic = [engine.answer(item["question"], corpus="squad") for item in SEED_QUESTIONS]
    assert all(a.abstained for a in off_topic)


def test_contains_answer_follows_squad_normalisation():
    assert contains_answer("The Normans were in France.", ["normans"])
    assert contains_answer("It cost $5, roughly.", ["$5"])
    assert not contains_answer("Nothing here.", ["Normans"])


def test_a_running_engine_survives_its_corpus_being_removed_and_re_ingested(settings, engine):
    from retrieval.store.client import open_client
    from retrieval.store.corpus import remove_corpus

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


PARAPHRASES = ROOT / "bench" / "sets" / "paraphrase"
NEWS_DOCUMENTS = ROOT / "bench" / "sets" / "news" / "documents"


@pytest.mark.parametrize("mixed", [False, True], ids=["alone", "among-news"])
def test_paraphrased_questions_about_the_article_are_answered_and_off_topic_ones_refused(settings, mixed):
    """The development paraphrases: other words than the article's, names asked for that a
    neighbouring sentence holds. None may be refused, alone or among two dozen news articles.
    Alone, off-topic questions are refused (among the news, "How do I reset my laptop
    password?" meets an article telling customers to change their passwords)."""
    ingest([str(SEED_CORPUS), *([str(NEWS_DOCUMENTS)] if mixed else [])], "default", settings)
    engine = Engine(settings)
    questions = load_questions(PARAPHRASES / "dev.jsonl")
    answers = {q.id: engine.answer(q.question) for q in questions}
    assert [q.id for q in questions if q.answerable and answers[q.id].abstained] == []
    right = [q.id for q in questions if q.answerable and contains_answer(answers[q.id].citations[0].quote, q.expect)]
    assert len(right) >= 0.7 * sum(q.answerable for q in questions)
    if not mixed:
        assert all(answers[q.id].abstained for q in questions if q.id.startswith("o"))  # off-topic


NEWS_ARTICLE = """date 2025-03-14
# Van recall

Halvorsen Motors is recalling thousands of its Fjord electric delivery vans in Europe after drivers reported brake faults.

The company said the recall covers 48,700 vans built between May 2023 and January 2025.

Shares in the carmaker fell 3.8% in Oslo trading after the announcement.

Analysts at Nordvik Securities said the episode was unlikely to dent demand for electric vans across Europe.
"""


def test_a_which_question_gets_the_sentence_naming_the_answer_not_only_the_one_referring_to_it(settings, tmp_path):
    (tmp_path / "news").mkdir()
    (tmp_path / "news" / "recall.md").write_text(NEWS_ARTICLE)
    ingest([str(tmp_path / "news")], "default", settings)
    answer = Engine(settings).answer("Which carmaker recalled 48,700 vans?")
    first = answer.citations[0]
    assert "Halvorsen Motors" in first.quote and "48,700" in first.quote  # the lead and the sentence after it
    assert len(first.quote) <= 400
    text = (tmp_path / "news" / "recall.md").read_text()
    assert text[first.start : first.end] == first.quote
