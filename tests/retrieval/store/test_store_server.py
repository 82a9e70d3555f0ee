"""Server mode: the same code against a real `chroma run` server on loopback."""

import uuid

import pytest

from retrieval.engine import Engine
from retrieval.errors import StoreUnavailable
from retrieval.ingest.pipeline import ingest
from retrieval.settings import Settings
from retrieval.store.client import open_client
from retrieval.store.corpus import list_corpora
from tests.support.ports import free_port
from tests.support.seed import SEED_CORPUS

pytestmark = [pytest.mark.integration, pytest.mark.server]


def test_a_fresh_data_dir_answers_exactly_as_the_machine_that_ingested(server_env, tmp_path):
    corpus = f"shared-{uuid.uuid4().hex[:8]}"
    ingesting = Settings(data_dir=tmp_path / "machine-a")
    ingest([str(SEED_CORPUS)], corpus, ingesting)
    other = Settings(data_dir=tmp_path / "machine-b")  # nothing on disk here
    assert not (tmp_path / "machine-b" / "chroma").exists()
    for question in ["What did Shoigu ask Wallace?", "What has Russia considered, according to Shoigu?",
                     "What is the population of Moscow?"]:
        a = Engine(ingesting).answer(question, corpus=corpus)
        b = Engine(other).answer(question, corpus=corpus)
        assert a == b
    assert not (tmp_path / "machine-b" / "chroma").exists()  # it never fell back to embedded


def test_reingesting_through_the_server_changes_nothing(server_env, tmp_path):
    corpus = f"idem-{uuid.uuid4().hex[:8]}"
    settings = Settings(data_dir=tmp_path / "d")
    ingest([str(SEED_CORPUS)], corpus, settings)
    again = ingest([str(SEED_CORPUS)], corpus, settings)
    assert not again.changed
    [info] = [i for i in list_corpora(open_client(settings), settings) if i.corpus == corpus]
    assert info.documents == 1 and info.passages == 7


def test_a_server_that_is_down_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("CHROMA_HOST", "127.0.0.1")
    monkeypatch.setenv("CHROMA_PORT", str(free_port()))
    with pytest.raises(StoreUnavailable, match="cannot reach the Chroma server at 127.0.0.1"):
        Engine(Settings()).answer("What did Shoigu ask Wallace?")
