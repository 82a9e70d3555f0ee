"""Soak test of `qa serve`: bounded, loopback only. For `--minutes`, a steady mix of channel
mentions, direct messages, Slack retries of events already sent, and Helpful / Not helpful
clicks goes to a real `qa serve` (HTTP mode, fake Slack Web API). Halfway through, a new
document is ingested by a separate `qa ingest` process while the bot keeps serving. Checks:
- every question is answered exactly once (retries included), every request acknowledged;
- every click is recorded (`qa feedback --json`), none twice;
- the document ingested mid-run becomes answerable without a restart;
- the server's memory stays flat (RSS sampled from /proc; the last tenth of the run against
  the first tenth after warm-up).
Writes the figures to docs/soak.md (`--report`) and exits 1 if a check fails.

    .venv/bin/python bench/soak.py --minutes 30 --report docs/soak.md
    .venv/bin/python bench/soak.py --minutes 0.5        # the short version CI runs

`--store server` (default) runs a Chroma server on a free loopback port, as a workspace that
ingests while serving would; `--store embedded` uses the data directory, where the bot
itself must pick up what `qa ingest` could write.

`--replicas 2` runs two `qa serve` replicas on that Chroma server and a throwaway PostgreSQL
(QA_STATE_URL), as behind a load balancer: each request goes to a random replica, and each
Slack retry to a replica other than the one that got the event. "Lost" counts questions
never answered.

`--kill` (with `--replicas 2` or more) SIGKILLs the first replica a third of the way in, as
a crashed machine: the load balancer takes it out of rotation, a burst of questions it has
just acknowledged is still being answered, and Slack sends no retry for any of them (it had
its 200). They can only be answered by another replica's claim sweeper, after
QA_STATE_CLAIM_TIMEOUT (5 s here). The report counts the questions the killed replica had
acknowledged, those it had not answered when it died, and of those how many were answered
once, lost and duplicated. A delivery the dead replica never acknowledged is re-sent to a
live one, as Slack retries it.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
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

from tests.support.ports import free_port, wait_for_heartbeat  # noqa: E402
from tests.support.postgres import start_cluster  # noqa: E402
from tests.support.serving import start_serve  # noqa: E402
from tests.support.slack_fake import FakeSlack, app_mention, block_action, event_callback, message, sign  # noqa: E402

SECRET, TOKEN = "soak-test-signing-secret", "xoxb-soak-test-token"
QUESTIONS = ["What did Shoigu ask Wallace?", "What would Russia like to avoid?", "What is Ben Wallace's role?",
             "What has Russia considered, according to Shoigu?", "What is the population of Moscow?"]
CANARY_QUESTION = "What colour is the door of the soak-test archive room?"
CANARY = "The door of the soak-test archive room is painted a deep ultramarine blue."
KILL_BURST = 8  # questions sent to the replica about to be killed, acknowledged just before it dies
KILL_CLAIM_TIMEOUT = 5.0  # QA_STATE_CLAIM_TIMEOUT with --kill: the sweepers act within the run


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def start_chroma(workdir: Path) -> tuple[subprocess.Popen, int]:
    port = free_port()
    chroma = Path(sys.executable).with_name("chroma")
    process = subprocess.Popen([str(chroma), "run", "--path", str(workdir / "chroma"), "--host", "127.0.0.1", "--port", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        wait_for_heartbeat(port)
    except RuntimeError:
        process.kill()
        raise
    return process, port


class Traffic:
    """Sends the mix and remembers what each request expects."""

    def __init__(self, urls: list[str], fake: FakeSlack):
        self.urls, self.fake = list(urls), fake  # in rotation: the load balancer's view
        self.questions: dict[str, str] = {}  # channel -> question (one question per channel)
        self.first_to: dict[str, str] = {}  # channel -> replica its question was first delivered to
        self.acked: set[str] = set()  # channels whose question some replica answered 200
        self.statuses: list[int] = []
        self.to_dead = 0  # requests that reached a replica as it died (not acknowledged)
        self.dead: set[str] = set()
        self.acks: list[float] = []
        self.clicks: set[tuple[str, str]] = set()  # (answer id, user), acknowledged
        self.clicked: set[tuple[str, str]] = set()  # sent, acknowledged or not
        self.retries = 0
        self.lock = threading.Lock()
        self.count = 0  # questions sent

    def pick(self, avoid: str | None = None) -> str:
        with self.lock:
            return random.choice([u for u in self.urls if u != avoid] or self.urls)

    def post(self, body: str, content_type: str, headers: dict | None = None, url: str | None = None) -> int:
        url = url or self.pick()
        started = time.monotonic()
        try:
            response = httpx.post(f"{url}/slack/events", content=body.encode(), timeout=10,
                                  headers={"Content-Type": content_type, **sign(SECRET, body), **(headers or {})})
            status = response.status_code
        except httpx.HTTPError:
            status = 0
        with self.lock:
            if status != 200 and url in self.dead:
                self.to_dead += 1
            else:
                self.statuses.append(status)
                self.acks.append(time.monotonic() - started)
        return status

    def ask(self, question: str, dm: bool, channel: str | None = None, url: str | None = None) -> None:
        with self.lock:
            self.count += 1
            channel = channel or f"{'D' if dm else 'C'}SOAK{self.count:06d}"
            self.questions[channel] = question
        event = message(question, channel, "im") if dm else app_mention(question, channel)
        envelope = event_callback(event)
        body = json.dumps(envelope)
        first = url or self.pick()
        with self.lock:
            self.first_to[channel] = first
        status = self.post(body, "application/json", url=first)
        retry = 1
        while status != 200 and retry <= 3:  # not acknowledged: Slack re-sends it (the balancer routes it elsewhere)
            with self.lock:
                self.retries += 1
            status = self.post(body, "application/json", {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason":
                                                          "http_error"}, url=self.pick(avoid=first))
            retry += 1
        if status == 200:
            with self.lock:
                self.acked.add(channel)
        if status == 200 and random.random() < 0.1:  # Slack re-sends an event it thinks was not acknowledged
            with self.lock:
                self.retries += 1
            self.post(body, "application/json", {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"},
                      url=self.pick(avoid=first))

    def click(self) -> None:
        answered = [c.body for c in self.fake.calls if c.method == "chat.postMessage"]
        ids = [b["value"] for post in answered for block in _blocks(post) if block.get("type") == "actions"
               for b in block["elements"] if b.get("action_id") == "feedback_helpful"]
        if not ids:
            return
        answer_id, user = random.choice(ids), f"U{random.randrange(10**6):06d}"
        action = random.choice(["feedback_helpful", "feedback_not_helpful"])
        with self.lock:
            if (answer_id, user) in self.clicked:
                return
            self.clicked.add((answer_id, user))
        payload = block_action(action, answer_id, "CSOAKCLICK", self.fake.response_url("click"), user=user)
        if self.post(urllib.parse.urlencode({"payload": json.dumps(payload)}), "application/x-www-form-urlencoded") == 200:
            with self.lock:  # a click never acknowledged showed the user an error: not expected in the feedback
                self.clicks.add((answer_id, user))

    def kill(self, server: subprocess.Popen, url: str) -> dict:
        """Take `url` out of rotation, send it a burst of questions, and SIGKILL it the moment
        it has acknowledged them all: what it had not answered is now mid-answer."""
        with self.lock:
            self.urls.remove(url)
        channels = [f"{'D' if n % 2 else 'C'}KILLED{n:04d}" for n in range(KILL_BURST)]
        with ThreadPoolExecutor(len(channels)) as burst:
            for n, channel in enumerate(channels):
                burst.submit(self.ask, random.choice(QUESTIONS), n % 2 == 1, channel, url)
        with self.lock:
            self.dead.add(url)
        killed_at = time.monotonic()
        server.send_signal(signal.SIGKILL)
        server.wait(timeout=30)
        posted = {c.body.get("channel") for c in self.fake.calls if c.method == "chat.postMessage"}
        with self.lock:
            acked_by_it = {c for c, u in self.first_to.items() if u == url and c in self.acked}
        return {"killed_at": killed_at, "acked_by_it": acked_by_it, "mid_answer": acked_by_it - posted}


def _blocks(post: dict) -> list[dict]:
    blocks = post.get("blocks") or []
    return json.loads(blocks) if isinstance(blocks, str) else blocks


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--rate", type=float, default=3.0, help="requests per second (bounded)")
    parser.add_argument("--store", choices=["server", "embedded"], default="server")
    parser.add_argument("--replicas", type=int, default=1, help="qa serve processes sharing one PostgreSQL state")
    parser.add_argument("--kill", action="store_true", help="SIGKILL the first replica a third of the way in")
    parser.add_argument("--report", type=Path, help="write the figures as Markdown here")
    args = parser.parse_args()
    assert 0 < args.minutes <= 120 and 0 < args.rate <= 20 and 1 <= args.replicas <= 4, "bounded soak only"
    assert args.replicas == 1 or args.store == "server", "replicas share a Chroma server: --store server"
    assert not args.kill or args.replicas >= 2, "--kill needs a replica left to answer: --replicas 2"

    workdir = Path(tempfile.mkdtemp(prefix="qa-soak-"))
    fake = FakeSlack()
    env = {**os.environ, "QA_DATA_DIR": str(workdir / "data"), "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT),
           "SLACK_API_URL": fake.api_url, "SLACK_BOT_TOKEN": TOKEN, "SLACK_SIGNING_SECRET": SECRET}
    chroma = postgres = None
    if args.replicas > 1:
        postgres = start_cluster()
        env["QA_STATE_URL"] = postgres.url()
    if args.kill:
        env["QA_STATE_CLAIM_TIMEOUT"] = str(KILL_CLAIM_TIMEOUT)
    if args.store == "server":
        chroma, chroma_port = start_chroma(workdir)
        env.update(CHROMA_HOST="127.0.0.1", CHROMA_PORT=str(chroma_port))
    qa = [sys.executable, "-m", "bot.cli"]
    subprocess.run([*qa, "ingest", str(ROOT / "corpus")], env=env, check=True, capture_output=True)
    servers, urls = [], []
    for n in range(args.replicas):  # each replica its own data directory: only the shared stores connect them
        port = free_port()
        replica_env = {**env, "QA_DATA_DIR": str(workdir / f"data-{n}")} if args.replicas > 1 else env
        servers.append(start_serve(replica_env, port, open(workdir / f"serve-{n}.log", "w")))
        urls.append(f"http://127.0.0.1:{port}")
    traffic = Traffic(urls, fake)
    results: dict = {"minutes": args.minutes, "rate_per_s": args.rate, "store": args.store, "replicas": args.replicas,
                     "kill": args.kill}
    memory: list[tuple[float, float]] = []
    kill: dict = {}
    # The memory check follows the replicas that run to the end.
    measured = servers[1:] if args.kill else servers
    ingest_result: dict = {}
    canary_channels: list[tuple[str, float]] = []
    try:
        began = time.monotonic()
        duration = args.minutes * 60
        next_sample = 0.0
        ingested = threading.Event()

        def ingest_midway() -> None:
            docs = workdir / "new-docs"
            docs.mkdir()
            (docs / "archive-room.txt").write_text(f"Facilities notes.\n\n{CANARY}\n")
            started = time.monotonic()
            done = subprocess.run([*qa, "ingest", str(docs)], env=env, capture_output=True, text=True)
            ingest_result.update(exit=done.returncode, seconds=round(time.monotonic() - started, 1),
                                 output=(done.stdout + done.stderr).strip()[-300:])
            ingested.set()

        midway = threading.Timer(duration / 2, ingest_midway)
        midway.start()
        killer = threading.Timer(duration / 3, lambda: kill.update(traffic.kill(servers[0], urls[0])))
        if args.kill:
            killer.start()
        with ThreadPoolExecutor(8) as pool:
            tick = 0
            while (elapsed := time.monotonic() - began) < duration:
                if elapsed >= next_sample:
                    memory.append((elapsed, sum(rss_mb(server.pid) for server in measured)))
                    next_sample += max(1.0, duration / 60)
                if ingested.is_set() and tick % 10 == 0:  # keep asking what the new document answers
                    channel = f"CCANARY{len(canary_channels):05d}"
                    pool.submit(traffic.ask, CANARY_QUESTION, False, channel)
                    canary_channels.append((channel, elapsed))
                else:
                    kind = random.random()
                    if kind < 0.15:
                        pool.submit(traffic.click)
                    else:
                        pool.submit(traffic.ask, random.choice(QUESTIONS), kind < 0.45)
                tick += 1
                time.sleep(1 / args.rate)
        midway.join()
        if args.kill:
            killer.join()  # a Timer never started cannot be joined
        # Let the last answers arrive (the killed replica's after the claim timeout), then look for duplicates.
        fake.wait_for(lambda: len({c.body.get("channel") for c in fake.calls if c.method == "chat.postMessage"}
                                  & set(traffic.questions)) >= len(traffic.questions), timeout=120)
        time.sleep(3)
        memory.append((time.monotonic() - began, sum(rss_mb(server.pid) for server in measured)))

        posts: dict[str, list[dict]] = {}
        answered_at: dict[str, float] = {}
        for call in fake.calls:
            if call.method == "chat.postMessage" and call.body.get("channel") in traffic.questions:
                posts.setdefault(call.body["channel"], []).append(call.body)
                answered_at.setdefault(call.body["channel"], call.at)
        if args.kill:
            mid = kill["mid_answer"]
            results["killed_replica"] = {
                "at_s": round(duration / 3, 1),
                "questions_it_acked": len(kill["acked_by_it"]),
                "mid_answer_when_killed": len(mid),
                "answered_once": sum(len(posts.get(c, [])) == 1 for c in mid),
                "lost": sum(c not in posts for c in mid),
                "duplicated": sum(len(posts.get(c, [])) > 1 for c in mid),
                "answered_s_after_kill_max": round(max((answered_at[c] - kill["killed_at"] for c in mid if c in answered_at),
                                                       default=0.0), 1),
                "requests_it_never_acked": traffic.to_dead,
            }
            # Posted by it, then answered again: it died between Slack taking the post and the
            # claim being marked done. The claim is at least once: a repeat rather than a loss.
            again = [c for c in kill["acked_by_it"] - mid if len(posts.get(c, [])) > 1]
            results["killed_replica"].update(
                posted_then_answered_again=len(again),
                posted_then_answered_again_ms_before_kill=sorted(round(1000 * (kill["killed_at"] - answered_at[c]))
                                                                 for c in again))
        feedback = subprocess.run([*qa, "feedback", "--json", "--users"], env=env, capture_output=True, text=True, check=True)
        rows = [json.loads(line) for line in feedback.stdout.splitlines() if line.strip()]
        recorded = {(r["answer_id"], r["user"]) for r in rows}

        canary_hits = [t for channel, t in canary_channels if any(CANARY in json.dumps(p) for p in posts.get(channel, []))]
        warm = [rss for t, rss in memory if t >= duration * 0.1] or [rss for _, rss in memory]
        tenth = max(1, len(warm) // 10)
        results.update(
            questions=len(traffic.questions),
            acked=len(traffic.acked),
            slack_retries_sent=traffic.retries,
            clicks=len(traffic.clicks),
            requests=len(traffic.statuses),
            http_200=traffic.statuses.count(200),
            other_statuses=sorted({s for s in traffic.statuses if s != 200}),
            ack_ms_p50=round(1000 * statistics.median(traffic.acks), 1),
            ack_ms_max=round(1000 * max(traffic.acks), 1),
            answered_exactly_once=sum(len(posts.get(c, [])) == 1 for c in traffic.questions),
            unanswered=sum(c not in posts for c in traffic.questions),
            duplicated=sum(len(p) > 1 for p in posts.values()),
            clicks_recorded=len(recorded & traffic.clicks),
            feedback_rows=len(rows),
            ingest=ingest_result,
            canary_asked=len(canary_channels),
            canary_answered=len(canary_hits),
            rss_mb_first_tenth=round(statistics.median(warm[:tenth]), 1),
            rss_mb_last_tenth=round(statistics.median(warm[-tenth:]), 1),
            rss_mb_max=round(max(r for _, r in memory), 1),
            serve_alive=all(server.poll() is None for server in measured),
        )
    finally:
        for server in servers:
            server.terminate()
            server.wait(timeout=30)
        if postgres is not None:
            postgres.stop()
        if chroma is not None:
            chroma.terminate()
            chroma.wait(timeout=30)
        fake.close()

    growth = results["rss_mb_last_tenth"] - results["rss_mb_first_tenth"]
    checks = {
        "every request acknowledged (HTTP 200)": results["http_200"] == results["requests"],
        "every question acknowledged by a replica": results["acked"] == results["questions"],
        "every question answered exactly once": results["answered_exactly_once"] == results["questions"]
        - results.get("killed_replica", {}).get("posted_then_answered_again", 0),
        "every click recorded once": results["clicks_recorded"] == results["clicks"] == results["feedback_rows"],
        "mid-run ingest succeeded": ingest_result.get("exit") == 0,
        "new document answerable without restart": results["canary_answered"] > 0
        and results["canary_answered"] >= results["canary_asked"] - 1,  # the first may race the ingest's end
        "memory flat (last tenth within 10% + 50 MB of first)": growth <= 0.1 * results["rss_mb_first_tenth"] + 50,
        "server still running": results["serve_alive"],
    }
    if args.kill:
        killed = results["killed_replica"]
        checks["the killed replica died with questions mid-answer"] = killed["mid_answer_when_killed"] > 0
        checks["each of them answered once by another replica, none lost"] = (
            killed["answered_once"] == killed["mid_answer_when_killed"])
        # The only repeats allowed: answers it posted in the instant before it died, not yet recorded.
        checks["no answer it posted more than a second before the kill was repeated"] = all(
            ms < 1000 for ms in killed["posted_then_answered_again_ms_before_kill"])
    results["checks"] = checks
    print(json.dumps(results, indent=2))
    if args.report:
        write_report(args.report, results)
    sys.exit(0 if all(checks.values()) else 1)


def write_report(path: Path, r: dict) -> None:
    lines = [
        "# Soak test of `qa serve`",
        "",
        f"`bench/soak.py --minutes {r['minutes']:g} --rate {r['rate_per_s']:g} --store {r['store']} "
        f"--replicas {r['replicas']}{' --kill' if r['kill'] else ''}`, "
        f"run {time.strftime('%Y-%m-%d')} on this 2-core machine, loopback only.",
        "",
        "| measure | value |",
        "| --- | --- |",
        f"| questions asked (mentions and DMs) | {r['questions']} |",
        f"| Slack retries of already-sent events | {r['slack_retries_sent']} |",
        f"| feedback clicks | {r['clicks']} |",
        f"| HTTP requests / answered 200 | {r['requests']} / {r['http_200']} |",
        f"| acknowledgement p50 / max | {r['ack_ms_p50']} ms / {r['ack_ms_max']} ms |",
        f"| answered exactly once / lost (unanswered) / duplicated | {r['answered_exactly_once']} / {r['unanswered']} / {r['duplicated']} |",
        *([f"| replica killed (SIGKILL) at {k['at_s']} s: questions it acknowledged / not yet answered when it died "
           f"| {k['questions_it_acked']} / {k['mid_answer_when_killed']} |",
           f"| of those, answered once by another replica's sweeper / lost / duplicated "
           f"| {k['answered_once']} / {k['lost']} / {k['duplicated']} (the last {k['answered_s_after_kill_max']} s "
           "after the kill) |",
           f"| answers it had posted that were posted again (it died before recording them) "
           f"| {k['posted_then_answered_again']} |"] if (k := r.get("killed_replica")) else []),
        f"| clicks recorded / feedback rows | {r['clicks_recorded']} / {r['feedback_rows']} |",
        f"| mid-run `qa ingest` | exit {r['ingest'].get('exit')}, {r['ingest'].get('seconds')} s |",
        f"| new document's question answered from it | {r['canary_answered']} of {r['canary_asked']} asks after the ingest |",
        f"| server RSS ({'the replicas left' if r['kill'] else 'all replicas'}): first tenth / last tenth / max "
        f"| {r['rss_mb_first_tenth']} / {r['rss_mb_last_tenth']} / {r['rss_mb_max']} MB |",
        "",
        "Checks: " + "; ".join(f"{name}: {'yes' if ok else 'NO'}" for name, ok in r["checks"].items()) + ".",
        "",
    ]
    path.write_text("\n".join(lines))


if __name__ == "__main__":
    main()
