"""Load test of `qa serve` (HTTP mode), loopback only and bounded: N signed mentions, C at a
time, against a fake Slack Web API. Every request must be acknowledged within 3 s and every
question answered exactly once. Prints acknowledgement and answer latency p50/p95.

    .venv/bin/python bench/slack_load.py [--requests 200] [--concurrency 20]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.serving import start_serve  # noqa: E402
from tests.slack_fake import FakeSlack, app_mention, event_callback, sign  # noqa: E402

SECRET, TOKEN = "load-test-signing-secret", "xoxb-load-test-token"
QUESTIONS = ["What did Shoigu ask Wallace?", "What would Russia like to avoid?", "What is Ben Wallace's role?",
             "What has Russia considered, according to Shoigu?", "What is the population of Moscow?"]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=20)
    args = parser.parse_args()
    assert 0 < args.requests <= 2000 and 0 < args.concurrency <= 50, "bounded load only"

    workdir = Path(tempfile.mkdtemp(prefix="qa-load-"))
    fake = FakeSlack()
    with __import__("socket").socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "QA_DATA_DIR": str(workdir / "data"), "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT),
           "SLACK_API_URL": fake.api_url, "SLACK_BOT_TOKEN": TOKEN, "SLACK_SIGNING_SECRET": SECRET}
    subprocess.run([sys.executable, "-m", "bot.cli", "ingest", str(ROOT / "corpus")], env=env, check=True, capture_output=True)
    server = start_serve(env, port, open(workdir / "serve.log", "w"))
    url = f"http://127.0.0.1:{port}"
    try:
        sent: dict[str, float] = {}
        acks: list[float] = []
        statuses: list[int] = []

        def mention(i: int) -> None:
            channel = f"CLOAD{i:05d}"
            body = json.dumps(event_callback(app_mention(QUESTIONS[i % len(QUESTIONS)], channel)))
            with httpx.Client(timeout=10) as client:
                started = time.monotonic()
                sent[channel] = started
                response = client.post(f"{url}/slack/events", content=body,
                                       headers={"Content-Type": "application/json", **sign(SECRET, body)})
                acks.append(time.monotonic() - started)
                statuses.append(response.status_code)

        began = time.monotonic()
        with ThreadPoolExecutor(args.concurrency) as pool:
            list(pool.map(mention, range(args.requests)))
        fake.wait_for(lambda: len({c.body["channel"] for c in fake.calls if c.method == "chat.postMessage"}) >= args.requests,
                      timeout=300)
        time.sleep(2)  # any duplicate answer would arrive by now
        posts = [c for c in fake.calls if c.method == "chat.postMessage" and c.status == 200]
        per_channel: dict[str, list] = {}
        for call in posts:
            per_channel.setdefault(call.body["channel"], []).append(call)
        answered_once = sum(len(v) == 1 for v in per_channel.values())
        answer_latency = [per_channel[c][0].at - t for c, t in sent.items() if c in per_channel]
        result = {
            "requests": args.requests,
            "concurrency": args.concurrency,
            "http_200": statuses.count(200),
            "acked_within_3s": sum(a < 3 for a in acks),
            "answered_exactly_once": answered_once,
            "duplicates": len(posts) - len(per_channel),
            "ack_ms_p50": round(1000 * statistics.median(acks), 1),
            "ack_ms_p95": round(1000 * percentile(acks, 0.95), 1),
            "answer_ms_p50": round(1000 * statistics.median(answer_latency), 1),
            "answer_ms_p95": round(1000 * percentile(answer_latency, 0.95), 1),
            "wall_s": round(time.monotonic() - began, 1),
        }
        print(json.dumps(result, indent=2))
        ok = result["acked_within_3s"] == result["answered_exactly_once"] == args.requests == result["http_200"]
        sys.exit(0 if ok else 1)
    finally:
        server.terminate()
        server.wait(timeout=30)
        fake.close()


if __name__ == "__main__":
    main()
