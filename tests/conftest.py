"""Shared fixtures: every test gets its own data directory; a real Chroma server is started
once per session for the server-mode tests; the embedding model is the real one."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

from tests.postgres import start_cluster

ROOT = Path(__file__).resolve().parents[1]
SEED_CORPUS = ROOT / "corpus"
SEED_FILE = SEED_CORPUS / "wallace-shoigu-2022-02-11.txt"
EVAL_DIR = Path(os.environ.get("QA_EVAL_DIR") or ROOT.parent / "shared" / "eval")
if not (EVAL_DIR / "seed_dev.jsonl").is_file():
    raise RuntimeError(f"evaluation data not found in {EVAL_DIR}: the tests expect ../shared/eval beside the "
                       "checkout (or set QA_EVAL_DIR)")
SHOIGU_SENTENCE = "Shoigu asked Wallace to explain why the UK has deployed its special forces troops in Ukraine"


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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_heartbeat(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"chroma server on port {port} did not start")


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory):
    """A real `chroma run` on a free loopback port: the one .ci/run started (QA_TEST_CHROMA_PORT)
    or one of our own."""
    if os.environ.get("QA_TEST_CHROMA_PORT"):
        port = int(os.environ["QA_TEST_CHROMA_PORT"])
        wait_for_heartbeat(port)
        yield "127.0.0.1", port
        return
    port = free_port()
    chroma = Path(sys.executable).with_name("chroma")
    path = tmp_path_factory.mktemp("chroma-server")
    log = open(path / "server.log", "wb")
    process = subprocess.Popen(
        [str(chroma), "run", "--path", str(path / "db"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        wait_for_heartbeat(port)
        yield "127.0.0.1", port
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


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
