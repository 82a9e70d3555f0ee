"""Hostile HTTP against a real `qa serve` (HTTP mode, loopback): malformed or mis-typed bodies,
bad signatures, odd methods and paths, broken framing. Never a 5xx, never a crash, and
/health still answers afterwards."""

from __future__ import annotations

import os
import subprocess
import sys

import httpx
import pytest
from hypothesis import HealthCheck, given, settings

from tests.support import hostile
from tests.support.ports import free_port
from tests.support.seed import ROOT, SEED_CORPUS
from tests.support.serving import start_serve
from tests.support.slack_fake import FakeSlack

pytestmark = pytest.mark.integration
SECRET = "fuzz-signing-secret"
EXAMPLES = settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))


class Server:
    def __init__(self, process: subprocess.Popen, port: int, log):
        self.process, self.port, self.log = process, port, log
        self.url = f"http://127.0.0.1:{port}"
        self.log_seen = 0

    def assert_healthy(self) -> None:
        assert self.process.poll() is None, "qa serve exited"
        assert httpx.get(f"{self.url}/health", timeout=10).status_code == 200
        text = self.log.read_text()
        new, self.log_seen = text[self.log_seen :], len(text)  # one test's faults are not the next one's
        # uvicorn's words when an exception escaped the app (and it answered 500 itself)
        assert "Exception in ASGI application" not in new


@pytest.fixture(scope="module")
def server(tmp_path_factory, model_cache):
    folder = tmp_path_factory.mktemp("serve-fuzz")
    fake = FakeSlack()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QA_", "CHROMA_", "SLACK_"))}
    env.update({"QA_DATA_DIR": str(folder / "data"), "QA_MODEL_CACHE": str(model_cache), "HF_HUB_OFFLINE": "1",
                "PYTHONPATH": str(ROOT), "SLACK_API_URL": fake.api_url, "SLACK_BOT_TOKEN": "xoxb-fuzz",
                "SLACK_SIGNING_SECRET": SECRET})
    subprocess.run([sys.executable, "-m", "bot.cli", "ingest", str(SEED_CORPUS)], env=env, check=True, capture_output=True)
    port = free_port()
    log = folder / "serve.log"
    process = start_serve(env, port, open(log, "w"))
    try:
        yield Server(process, port, log)
    finally:
        process.terminate()
        process.wait(timeout=30)
        fake.close()


def test_no_request_gets_a_5xx_and_the_server_keeps_serving(server):
    with httpx.Client(timeout=30) as client:
        @EXAMPLES
        @given(request=hostile.slack_requests())
        def one(request):
            status = hostile.send(client, server.url, SECRET, request)
            assert status < 500, f"{status} for {request}"

        one()
    server.assert_healthy()


@pytest.mark.parametrize("raw", hostile.RAW_REQUESTS, ids=range(len(hostile.RAW_REQUESTS)))
def test_broken_http_is_refused_without_a_5xx(server, raw):
    status = hostile.send_raw(server.port, raw)
    assert status is None or status < 500
    server.assert_healthy()


def test_random_bytes_on_the_socket_never_get_a_5xx(server):
    @settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
    @given(raw=hostile.raw_requests)
    def one(raw):
        status = hostile.send_raw(server.port, raw)
        assert status is None or status < 500

    one()
    server.assert_healthy()
