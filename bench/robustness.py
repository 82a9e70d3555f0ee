"""The figures of docs/robustness.md: faults injected many more times than the test suite
can afford, with what happened after each.

    .venv/bin/python bench/robustness.py [--kills 20]

1. `qa ingest` (embedded) SIGKILLed at a random point of its progress, then run again.
2. The same against a Chroma server (the re-run takes over the dead ingest's lease).
3. Two processes recording Slack feedback, SIGKILLed at random moments.
4. A Chroma server stopped and restarted on the same port under a running engine.
Loopback only; prints a summary and writes bench/.cache/robustness.json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from retrieval import Engine, Settings, ingest  # noqa: E402
from tests.support.index_checks import IngestProcess, audit, kill_feedback_writers, problems, qa_env, squad_documents  # noqa: E402
from tests.support.ports import free_port, wait_for_heartbeat  # noqa: E402
from tests.support.seed import SEED_CORPUS


def kill_loop(kills: int, work: Path, models: Path, server: tuple[str, int] | None, seed: int) -> dict:
    """Each trial: a fresh corpus, an ingest killed at a random point, the index checked, the
    same ingest run again in-process, the index checked again."""
    rng = random.Random(seed)
    docs = work / "docs"
    firsts = squad_documents(docs, documents=10, paragraphs=2, first=120)
    trials = []
    for trial in range(kills):
        settings = Settings(data_dir=work / f"data-{trial}", model_cache=models, lock_wait=30,
                            **({"chroma_host": server[0], "chroma_port": server[1]} if server else {}))
        corpus = f"kill-{os.getpid()}-{trial}"
        run = IngestProcess([docs], corpus, qa_env(settings))
        fraction = rng.uniform(0.02, 0.95)
        progress = run.wait_for(fraction)
        time.sleep(rng.uniform(0, 0.4))  # land anywhere in the next document: embedding or writing
        run.kill()
        if progress is None:
            continue  # finished before the kill: not a crash trial
        after_kill = audit(settings, corpus)
        engine = Engine(settings)
        found = {str(p) for p, first in firsts.items()
                 if str(p) in {x.source for x in engine.answer(first, corpus=corpus).passages}}
        engine.close()
        started = time.monotonic()
        report = ingest([str(docs)], corpus, settings, progress=False)
        rerun_s = time.monotonic() - started
        after_rerun = audit(settings, corpus)
        trials.append({
            "committed_fraction": round(progress[0] / progress[1], 2),
            "documents_whole_after_kill": len(after_kill["documents"]),
            "whole_documents_not_found": len(after_kill["documents"] - found),
            "after_kill": {k: after_kill[k] for k in ("duplicate_passages", "missing_sentences", "lexical_mismatch",
                                                       "orphan_sentences", "incomplete_documents")},
            "recovered": report.recovered,
            "rerun_s": round(rerun_s, 1),
            "problems_after_rerun": problems(after_rerun),
            "all_documents_after_rerun": after_rerun["documents"] == {str(p) for p in firsts},
        })
        print(json.dumps(trials[-1]), flush=True)
    return {"trials": trials}


def feedback_kills(rounds: int, work: Path, seed: int) -> dict:
    from bot.slack.state import SlackState

    path = work / "slack.sqlite3"
    committed = kill_feedback_writers(path, rounds, random.Random(seed), clicks=(1, 80))
    state = SlackState(path)
    stored = {row["answer_id"] for row in state.feedback_rows()}
    return {"kills": 2 * rounds, "committed": len(committed), "lost": len(committed - stored),
            "integrity": state.integrity_problem() or "ok"}


def server_restarts(restarts: int, work: Path, models: Path) -> dict:
    from retrieval import StoreUnavailable

    port = free_port()
    chroma = str(Path(sys.executable).with_name("chroma"))

    def start():
        process = subprocess.Popen([chroma, "run", "--path", str(work / "restart-db"), "--host", "127.0.0.1", "--port",
                                    str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_heartbeat(port)
        return process

    server = start()
    settings = Settings(data_dir=work / "restart-data", model_cache=models, chroma_host="127.0.0.1", chroma_port=port)
    ingest([str(SEED_CORPUS)], "default", settings, progress=False)
    engine = Engine(settings)
    engine.answer("What did Shoigu ask Wallace?")
    errors_while_down, answers_after, to_answer = [], 0, []
    try:
        for _ in range(restarts):
            server.terminate()
            server.wait()
            started = time.monotonic()
            try:
                engine.answer("What did Shoigu ask Wallace?")
            except StoreUnavailable:
                errors_while_down.append(time.monotonic() - started)
            server = start()
            started = time.monotonic()
            answers_after += not engine.answer("What did Shoigu ask Wallace?").abstained
            to_answer.append(time.monotonic() - started)
    finally:
        server.kill()
    return {"restarts": restarts, "clear_errors_while_down": len(errors_while_down),
            "max_error_s": round(max(errors_while_down, default=0), 2), "answered_after_restart": answers_after,
            "max_first_answer_after_restart_s": round(max(to_answer), 2)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="qa-robustness-"))
    models = ROOT / "bench" / ".cache" / "models"  # the ONNX export bench/run.py keeps
    results = {"feedback": feedback_kills(25, work, args.seed)}
    print(json.dumps(results["feedback"]), flush=True)
    results["restarts"] = server_restarts(5, work, models)
    print(json.dumps(results["restarts"]), flush=True)
    results["embedded"] = kill_loop(args.kills, work, models, None, args.seed)
    port = free_port()
    server = subprocess.Popen([str(Path(sys.executable).with_name("chroma")), "run", "--path", str(work / "kill-db"),
                               "--host", "127.0.0.1", "--port", str(port)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        wait_for_heartbeat(port)
        results["server"] = kill_loop(max(1, args.kills // 2), work, models, ("127.0.0.1", port), args.seed + 1)
    finally:
        server.kill()
    (ROOT / "bench" / ".cache" / "robustness.json").write_text(json.dumps(results, indent=1))
    for mode in ("embedded", "server"):
        trials = results[mode]["trials"]
        print(f"{mode}: {len(trials)} SIGKILLs; after kill: "
              f"{sum(t['after_kill']['duplicate_passages'] for t in trials)} duplicated, "
              f"{sum(t['after_kill']['missing_sentences'] for t in trials)} passages without vectors, "
              f"{sum(t['after_kill']['lexical_mismatch'] for t in trials)} lexical mismatches, "
              f"{sum(t['whole_documents_not_found'] for t in trials)} whole documents not found; "
              f"{sum(t['after_kill']['orphan_sentences'] for t in trials)} orphan sentences and "
              f"{sum(t['after_kill']['incomplete_documents'] for t in trials)} half-written documents left; after re-run: "
              f"{sum(bool(t['problems_after_rerun']) for t in trials)} with problems, "
              f"{sum(not t['all_documents_after_rerun'] for t in trials)} missing documents")


if __name__ == "__main__":
    main()
