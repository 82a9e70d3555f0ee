"""`qa ingest` handed to a running `qa serve` (embedded index): how long it takes, and what
it does to the answers the bot gives meanwhile. Loopback only, bounded.

1. A `qa serve` on the seed corpus (HTTP mode, fake Slack Web API) answers `--questions`
   mentions one after another: the answer time (signed POST to the answer's arrival).
2. `qa ingest` of `--documents` SQuAD-paragraph documents runs beside it (the bot does the
   ingest); the same mentions are asked meanwhile.
3. Every new document is then asked for by its first sentence.
4. The same `qa ingest` in a data directory with no bot running: the local wall time.

    .venv/bin/python bench/handoff.py --documents 20
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.index_checks import squad_documents  # noqa: E402
from tests.support.ports import free_port  # noqa: E402
from tests.support.serving import start_serve  # noqa: E402
from tests.support.slack_fake import FakeSlack, app_mention, event_callback, sign  # noqa: E402

SECRET = "handoff-bench-secret"
QUESTIONS = ["What did Shoigu ask Wallace?", "What would Russia like to avoid?"]


def ask(port: int, fake: FakeSlack, question: str, channel: str) -> tuple[float, str]:
    body = json.dumps(event_callback(app_mention(question, channel)))
    started = time.monotonic()
    httpx.post(f"http://127.0.0.1:{port}/slack/events", content=body, timeout=10,
               headers={"Content-Type": "application/json", **sign(SECRET, body)})
    [post] = fake.wait_for(lambda: fake.posts(channel), timeout=120)
    return 1000 * (time.monotonic() - started), json.dumps(post["blocks"])


def summary(ms: list[float]) -> dict:
    ordered = sorted(ms)
    return {"n": len(ordered), "p50": round(statistics.median(ordered)), "max": round(ordered[-1])}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--documents", type=int, default=20)
    parser.add_argument("--paragraphs", type=int, default=5, help="SQuAD paragraphs per document")
    parser.add_argument("--questions", type=int, default=20, help="answers timed before the ingest")
    args = parser.parse_args()
    assert 0 < args.documents <= 200 and 0 < args.questions <= 200, "bounded runs only"

    work = Path(tempfile.mkdtemp(prefix="qa-handoff-"))
    firsts = squad_documents(work / "docs", args.documents, args.paragraphs)
    qa = [sys.executable, "-m", "bot.cli"]
    fake, port = FakeSlack(), free_port()
    env = {**os.environ, "QA_DATA_DIR": str(work / "data"), "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT),
           "QA_MODEL_CACHE": str(ROOT / "bench" / ".cache" / "models"),
           "SLACK_API_URL": fake.api_url, "SLACK_BOT_TOKEN": "xoxb-handoff-bench", "SLACK_SIGNING_SECRET": SECRET}
    subprocess.run([*qa, "ingest", str(ROOT / "corpus")], env=env, check=True, capture_output=True)
    server = start_serve(env, port, open(work / "serve.log", "w"))
    results: dict = {"documents": args.documents, "characters": sum(len(p.read_text()) for p in firsts)}
    try:
        idle = [ask(port, fake, QUESTIONS[i % 2], f"CIDLE{i}")[0] for i in range(args.questions)]
        results["answer_ms_idle"] = summary(idle)

        done: dict = {}

        def run_ingest() -> None:
            started = time.monotonic()
            out = subprocess.run([*qa, "ingest", str(work / "docs"), "--json"], env=env, capture_output=True, text=True)
            done.update(seconds=round(time.monotonic() - started, 1), exit=out.returncode, stderr=out.stderr.strip(),
                        report=json.loads(out.stdout) if out.returncode == 0 else None)

        ingesting = threading.Thread(target=run_ingest)
        ingesting.start()
        during, number = [], 0
        while ingesting.is_alive():
            during.append(ask(port, fake, QUESTIONS[number % 2], f"CBUSY{number}")[0])
            number += 1
        ingesting.join()
        results["answer_ms_during_ingest"] = summary(during) if during else None
        results["handed_over_ingest"] = {"exit": done["exit"], "seconds": done["seconds"], "stderr": done["stderr"][-300:],
                                         "added": len(done["report"]["added"]) if done["report"] else None}
        found = [json.dumps(first[:60])[1:-1] in ask(port, fake, first, f"CNEW{i}")[1] for i, first in enumerate(firsts.values())]
        results["new_documents_quoted"] = f"{sum(found)}/{len(found)}"
    finally:
        server.terminate()
        server.wait(timeout=60)
        fake.close()

    alone = {**env, "QA_DATA_DIR": str(work / "alone")}
    subprocess.run([*qa, "ingest", str(ROOT / "corpus")], env=alone, check=True, capture_output=True)
    started = time.monotonic()
    subprocess.run([*qa, "ingest", str(work / "docs")], env=alone, check=True, capture_output=True)
    results["local_ingest_seconds"] = round(time.monotonic() - started, 1)
    shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
