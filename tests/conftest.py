"""Shared fixtures: every test gets its own data directory; a real Chroma server is started
once per session for the server-mode tests; the embedding model is the real one."""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import pytest

from tests.support.chroma import ChromaServer
from tests.support.ports import wait_for_heartbeat
from tests.support.postgres import start_cluster
from tests.support.seed import EVAL_DIR, SEED_CORPUS

if not (EVAL_DIR / "seed_dev.jsonl").is_file():
    raise RuntimeError(f"evaluation data not found in {EVAL_DIR}: the tests expect ../shared/eval beside the "
                       "checkout (or set QA_EVAL_DIR)")


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory) -> Path:
    """One ONNX export of the model for the whole session (it takes seconds to make)."""
    return tmp_path_factory.mktemp("models")


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch, model_cache):
    """Storage in a temp folder, no inherited configuration, and no .env from the checkout."""
    for name in list(os.environ):
        if name.startswith(("QA_", "CHROMA_", "SLACK_")) and not name.startswith("QA_TEST_") and name != "QA_EVAL_DIR":
            monkeypatch.delenv(name)
    monkeypatch.setenv("QA_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("QA_MODEL_CACHE", str(model_cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def settings(isolated):
    from retrieval.settings import Settings

    return Settings()


@pytest.fixture
def seed_copy(tmp_path) -> Path:
    """A private copy of the shipped corpus, free to edit."""
    target = tmp_path / "docs"
    shutil.copytree(SEED_CORPUS, target)
    return target


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory):
    """A real `chroma run` on a free loopback port: the one .ci/run started (QA_TEST_CHROMA_PORT)
    or one of our own."""
    if os.environ.get("QA_TEST_CHROMA_PORT"):
        port = int(os.environ["QA_TEST_CHROMA_PORT"])
        wait_for_heartbeat(port)
        yield "127.0.0.1", port
        return
    with ChromaServer(tmp_path_factory.mktemp("chroma-server")) as server:
        yield "127.0.0.1", server.port


@pytest.fixture
def server_env(chroma_server, monkeypatch):
    """Point the code at the Chroma server; each test uses its own corpus names."""
    host, port = chroma_server
    monkeypatch.setenv("CHROMA_HOST", host)
    monkeypatch.setenv("CHROMA_PORT", str(port))
    return host, port


@pytest.fixture(scope="session")
def postgres():
    """A real PostgreSQL 15, a throwaway cluster for the session: the URL of its maintenance
    database (tests create their own databases in it)."""
    cluster = start_cluster()
    try:
        yield cluster.url()
    finally:
        cluster.stop()


@pytest.fixture
def postgres_url(postgres) -> str:
    """The URL of a new, empty database for this test alone."""
    import psycopg
    from sqlalchemy.engine import make_url

    name = "t" + uuid.uuid4().hex[:12]
    with psycopg.connect(postgres, autocommit=True) as db:
        db.execute(f'CREATE DATABASE "{name}"')
    return make_url(postgres).set(database=name).render_as_string(hide_password=False)
