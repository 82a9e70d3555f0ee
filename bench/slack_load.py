"""Load test of `qa serve` (HTTP mode), loopback only and bounded, against a fake Slack Web
API. Every request must be acknowledged within 3 s and every question answered exactly once.

    .venv/bin/python bench/slack_load.py [--requests 200] [--concurrency 20]
    .venv/bin/python bench/slack_load.py --slow [--report docs/slack_load.md]

The default burst is N signed mentions, C at a time (extractive answers). `--slow` is the
case that used to time out: LLM answers from a scripted OpenAI-compatible server that takes
`--delay` seconds to reply; 20 mentions are sent so that 20 slow answers are in flight, and
then 20 `/ask` commands and 20 button clicks arrive at once. Each must be acked < 3 s and
answered once (a mention: one message, ending as the checked answer; an /ask: one private
reply; a click: one "recorded"). Prints the figures as JSON (and writes `--report`).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.openai_fake import FakeOpenAI, citing  # noqa: E402
from tests.support.ports import free_port  # noqa: E402
from tests.support.seed import SHOIGU_SENTENCE
from tests.support.serving import start_serve  # noqa: E402
from tests.support.slack_fake import FakeSlack, app_mention, block_action, event_callback, sign, slash_command  # noqa: E402

SECRET, TOKEN = "load-test-signing-secret", "xoxb-load-test-token"
QUESTIONS = ["What did Shoigu ask Wallace?", "What would Russia like to avoid?", "What is Ben Wallace's role?",
             "What has Russia considered, according to Shoigu?", "What is the population of Moscow?"]
LLM_ANSWER = "Shoigu asked Wallace to explain why the UK has deployed special forces in Ukraine [P]."


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class Sender:
    """Signed requests to `qa serve`, each one's acknowledgement time recorded by kind."""

    def __init__(self, url: str):
        self.url = url
        self.acks: dict[str, list[float]] = {}
        self.statuses: list[int] = []
        self.sent_at: dict[str, float] = {}
        self._lock = threading.Lock()

    def post(self, kind: str, key: str, body: str, content_type: str) -> None:
        with httpx.Client(timeout=10) as client:
            started = time.monotonic()
            self.sent_at[key] = started
            response = client.post(f"{self.url}/slack/events", content=body,
                                   headers={"Content-Type": content_type, **sign(SECRET, body)})
            took = time.monotonic() - started
        with self._lock:
            self.acks.setdefault(kind, []).append(took)
            self.statuses.append(response.status_code)

    def mention(self, channel: str, question: str) -> None:
        self.post("mention", channel, json.dumps(event_callback(app_mention(question, channel))), "application/json")

    def form(self, kind: str, key: str, fields: dict) -> None:
        self.post(kind, key, urllib.parse.urlencode(fields), "application/x-www-form-urlencoded")


def serve(fake: FakeSlack, workdir: Path, extra_env: dict | None = None):
    port = free_port()
    env = {**os.environ, "QA_DATA_DIR": str(workdir / "data"), "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT),
           "SLACK_API_URL": fake.api_url, "SLACK_BOT_TOKEN": TOKEN, "SLACK_SIGNING_SECRET": SECRET, **(extra_env or {})}
    subprocess.run([sys.executable, "-m", "bot.cli", "ingest", str(ROOT / "corpus")], env=env, check=True, capture_output=True)
    return start_serve(env, port, open(workdir / "serve.log", "w")), f"http://127.0.0.1:{port}"


def ms(values: list[float]) -> dict:
    return {"p50_ms": round(1000 * statistics.median(values), 1), "p95_ms": round(1000 * percentile(values, 0.95), 1),
            "max_ms": round(1000 * max(values), 1)}


def mentions_burst(args) -> dict:
    workdir, fake = Path(tempfile.mkdtemp(prefix="qa-load-")), FakeSlack()
    server, url = serve(fake, workdir)
    sender = Sender(url)
    try:
        began = time.monotonic()
        channels = [f"CLOAD{i:05d}" for i in range(args.requests)]
        with ThreadPoolExecutor(args.concurrency) as pool:
            list(pool.map(lambda i: sender.mention(channels[i], QUESTIONS[i % len(QUESTIONS)]), range(args.requests)))
        fake.wait_for(lambda: len({c.body["channel"] for c in fake.calls if c.method == "chat.postMessage"}) >= args.requests,
                      timeout=300)
        time.sleep(2)  # any duplicate answer would arrive by now
        per_channel = _posts_per_channel(fake)
        acks = sender.acks["mention"]
        answer_latency = [per_channel[c][0].at - sender.sent_at[c] for c in channels if c in per_channel]
        result = {
            "scenario": "mentions", "requests": args.requests, "concurrency": args.concurrency,
            "http_200": sender.statuses.count(200), "acked_within_3s": sum(a < 3 for a in acks),
            "answered_exactly_once": sum(len(per_channel.get(c, [])) == 1 for c in channels),
            "ack_ms_p50": ms(acks)["p50_ms"], "ack_ms_p95": ms(acks)["p95_ms"],
            "answer_ms_p50": round(1000 * statistics.median(answer_latency), 1),
            "answer_ms_p95": round(1000 * percentile(answer_latency, 0.95), 1),
            "wall_s": round(time.monotonic() - began, 1),
        }
        result["ok"] = result["acked_within_3s"] == result["answered_exactly_once"] == args.requests == result["http_200"]
        return result
    finally:
        server.terminate()
        server.wait(timeout=30)
        fake.close()


def _posts_per_channel(fake: FakeSlack) -> dict[str, list]:
    per_channel: dict[str, list] = {}
    for call in fake.calls:
        if call.method == "chat.postMessage" and call.ok:
            per_channel.setdefault(call.body["channel"], []).append(call)
    return per_channel


def _blocks(body: dict) -> list[dict]:
    blocks = body.get("blocks") or []
    return json.loads(blocks) if isinstance(blocks, str) else blocks


def _final(fake: FakeSlack, channel: str) -> dict | None:
    """The message the mention in `channel` ended as (its last edit), if it is the answer."""
    sent = [c.body for c in fake.calls if c.method in ("chat.postMessage", "chat.update") and c.body.get("channel") == channel]
    return sent[-1] if sent and "Helpful" in json.dumps(_blocks(sent[-1])) else None


def slow_answers(args) -> dict:
    """20 slow LLM answers in flight, then 20 /ask and 20 clicks at once."""
    n = args.slow_count
    workdir, fake = Path(tempfile.mkdtemp(prefix="qa-load-slow-")), FakeSlack()
    delay = args.delay
    with FakeOpenAI(lambda body: dataclasses.replace(citing(SHOIGU_SENTENCE, LLM_ANSWER)(body), delay=delay)) as model:
        server, url = serve(fake, workdir, {"QA_LLM": "openai:gpt-4o-mini", "QA_LLM_BASE_URL": model.base_url,
                                            "QA_LLM_API_KEY": "sk-load-test", "QA_LLM_TIMEOUT": "120"})
        sender = Sender(url)
        try:
            # An answer to click on, made before the burst (its own /ask; not counted).
            sender.form("setup", "setup", slash_command(QUESTIONS[0], "CSETUP", fake.response_url("setup")))
            [setup] = fake.wait_for(lambda: fake.responses("setup"), timeout=120)
            answer_id = next(e["value"] for b in _blocks(setup) for e in b.get("elements", [])
                             if e.get("action_id") == "feedback_helpful")
            model.requests.clear()
            began = time.monotonic()
            mentions = [f"CSLOW{i:03d}" for i in range(n)]
            with ThreadPoolExecutor(n) as pool:
                list(pool.map(lambda c: sender.mention(c, QUESTIONS[0]), mentions))
            # every slow answer is in flight (the model has been asked) or queued behind them
            fake.wait_for(lambda: len(model.requests) >= min(n, 8), timeout=60)
            in_flight_at_burst = n - sum(_final(fake, c) is not None for c in mentions)
            asks = [f"ask{i:03d}" for i in range(n)]
            clicks = [f"click{i:03d}" for i in range(n)]
            jobs = [lambda k=k: sender.form("ask", k, slash_command(QUESTIONS[0], "CASK", fake.response_url(k)))
                    for k in asks]
            jobs += [lambda k=k, i=i: sender.form("click", k, {"payload": json.dumps(block_action(
                "feedback_helpful" if i % 2 else "feedback_not_helpful", answer_id, "CCLICK", fake.response_url(k),
                user=f"U{i:07d}"))}) for i, k in enumerate(clicks)]
            with ThreadPoolExecutor(len(jobs)) as pool:
                list(pool.map(lambda job: job(), jobs))
            burst_acked = time.monotonic() - began
            fake.wait_for(lambda: all(_final(fake, c) for c in mentions) and all(fake.responses(k) for k in asks + clicks),
                          timeout=600)
            time.sleep(2)  # any duplicate would arrive by now
            per_channel = _posts_per_channel(fake)
            acks = {kind: sender.acks[kind] for kind in ("mention", "ask", "click")}
            answered = {
                "mention": sum(len(per_channel.get(c, [])) == 1 and _final(fake, c) is not None for c in mentions),
                "ask": sum(len(fake.responses(k)) == 1 and SHOIGU_SENTENCE in json.dumps(fake.responses(k)) for k in asks),
                "click": sum(len(fake.responses(k)) == 1 and "recorded" in fake.responses(k)[0]["text"] for k in clicks),
            }
            answer_s = {"mention": [fake_first_post(fake, c) - sender.sent_at[c] for c in mentions],
                        "ask": [responded_at(fake, k) - sender.sent_at[k] for k in asks],
                        "click": [responded_at(fake, k) - sender.sent_at[k] for k in clicks]}
            result = {
                "scenario": "slow", "model_delay_s": delay, "slow_answers": n, "in_flight_when_burst_sent": in_flight_at_burst,
                "http_200": sender.statuses.count(200), "requests": len(sender.statuses),
                **{f"{kind}_acked_within_3s": sum(a < 3 for a in acks[kind]) for kind in acks},
                **{f"{kind}_ack": ms(acks[kind]) for kind in acks},
                **{f"{kind}_answered_once": answered[kind] for kind in answered},
                **{f"{kind}_answer": ms(answer_s[kind]) for kind in answer_s},
                "burst_sent_and_acked_s": round(burst_acked, 1), "wall_s": round(time.monotonic() - began, 1),
            }
            result["ok"] = (result["http_200"] == result["requests"]
                            and all(result[f"{k}_acked_within_3s"] == n == answered[k] for k in acks))
            return result
        finally:
            server.terminate()
            server.wait(timeout=30)
            fake.close()


def fake_first_post(fake: FakeSlack, channel: str) -> float:
    return min(c.at for c in fake.calls if c.method == "chat.postMessage" and c.body.get("channel") == channel)


def responded_at(fake: FakeSlack, name: str) -> float:
    return min(c.at for c in fake.calls if c.method == "response_url" and c.path == f"/response/{name}")


def report(result: dict) -> str:
    rows = "\n".join(f"| {kind} | {result[kind + '_acked_within_3s']} of {result['slow_answers']} | "
                     f"{result[kind + '_ack']['p50_ms']} / {result[kind + '_ack']['p95_ms']} / {result[kind + '_ack']['max_ms']} ms | "
                     f"{result[kind + '_answered_once']} | {result[kind + '_answer']['p50_ms'] / 1000:.1f} / "
                     f"{result[kind + '_answer']['max_ms'] / 1000:.1f} s |" for kind in ("mention", "ask", "click"))
    return f"""# Slack acknowledgements under slow answers

`bench/slack_load.py --slow`, run {time.strftime('%Y-%m-%d')} on this 2-core machine, loopback only: a real
`qa serve` (HTTP mode) with `QA_LLM` pointed at a scripted OpenAI-compatible server
(`tests/support/openai_fake.py`) that waits {result['model_delay_s']:g} s before each reply, and the fake Slack Web API.
{result['slow_answers']} mentions are sent first, so {result['slow_answers']} slow answers are in flight
({result['in_flight_when_burst_sent']} still unanswered when the burst went out); then {result['slow_answers']}
`/ask` commands and {result['slow_answers']} *Helpful* / *Not helpful* clicks arrive at once.

| request | acked < 3 s | ack p50 / p95 / max | answered once | answer p50 / max |
| --- | --- | --- | --- | --- |
{rows}

HTTP 200: {result['http_200']} of {result['requests']}; wall time {result['wall_s']} s; all checks passed: {'yes' if result['ok'] else 'NO'}.

Every ack is sent by the request's own thread and every answer is a Bolt lazy listener on
the answering pool (8 threads), so acks stay well under a second while answers queue: the
answer times are the model's delay times the queue ahead of each request (for a mention,
the time to its first message, the streamed draft). Clicks need no model but wait in the
same queue behind the slow answers. Before this change the acks ran on Bolt's 5-thread
listener pool together with the answers, which is why a few slow answers in flight could
make Slack time out (issue 11).
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--slow", action="store_true", help="slow LLM answers in flight, then /ask and clicks")
    parser.add_argument("--slow-count", type=int, default=20)
    parser.add_argument("--delay", type=float, default=3.0, help="--slow: seconds the model takes to reply")
    parser.add_argument("--report", type=Path, help="--slow: write the figures as Markdown here")
    args = parser.parse_args()
    assert 0 < args.requests <= 2000 and 0 < args.concurrency <= 50 and 0 < args.slow_count <= 50, "bounded load only"
    result = slow_answers(args) if args.slow else mentions_burst(args)
    print(json.dumps(result, indent=2))
    if args.report and args.slow:
        args.report.write_text(report(result))
    sys.exit(0 if result["ok"] else 1)


if __name__ == "__main__":
    main()
