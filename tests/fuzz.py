"""Volume fuzzing: the property tests' own checks, run on far more hostile inputs than CI can
afford. Hypothesis draws the inputs from the same strategies (tests/support/hostile.py and the
property test modules); each target runs for a time budget (or an input count) and the
summary gives the inputs tried, the failures found and, for the Slack endpoint, the requests
served by a real `qa serve` and their status codes. Traffic goes to 127.0.0.1 only.

    .venv/bin/python tests/fuzz.py [--seconds 180] [--max-inputs N] [--targets loaders,splitter,question,slack]
                                   [--seed 0] [--json fuzz.json]

Exit status 1 when any failure was found; each one is printed with its minimal example.
"""

from __future__ import annotations

import argparse
import collections
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.retrieval import test_question_properties as qp  # noqa: E402
from tests.retrieval.ingest import test_loaders_properties as lp  # noqa: E402
from tests.retrieval.ingest import test_splitting_properties as sp  # noqa: E402
from tests.support import hostile  # noqa: E402
from tests.support.serving import start_serve  # noqa: E402
from tests.support.slack_fake import FakeSlack  # noqa: E402

CHUNK = 50  # examples per hypothesis run; a failure ends its run, the next one carries on
SECRET = "fuzz-signing-secret"


@dataclass
class Result:
    target: str
    inputs: int = 0
    failures: dict[str, str] = field(default_factory=dict)  # "property: error" -> minimal example
    statuses: collections.Counter = field(default_factory=collections.Counter)
    notes: dict = field(default_factory=dict)
    seconds: float = 0.0  # spent fuzzing, set-up excluded


class Budget:
    """Time is counted from the first input: loading the model or starting the server is not fuzzing."""

    def __init__(self, seconds: float, max_inputs: int | None):
        self.seconds, self.max_inputs = seconds, max_inputs
        self.deadline = float("inf")

    def start(self) -> None:
        self.deadline = time.monotonic() + self.seconds

    def spent(self, result: Result) -> bool:
        return time.monotonic() >= self.deadline or (self.max_inputs is not None and result.inputs >= self.max_inputs)


def fuzz(result: Result, budget: Budget, properties: list[tuple[str, object, dict]], base_seed: int | None) -> None:
    """Runs each property in turn, CHUNK examples at a time, until the budget is spent."""
    run = 0
    budget.start()
    started = time.monotonic()
    while not budget.spent(result):
        name, check, strategies = properties[run % len(properties)]
        test = given(**strategies)(counting(result, check))
        if base_seed is not None:
            test = seed(base_seed + run)(test)
        test = settings(max_examples=CHUNK, deadline=None, database=None, suppress_health_check=list(HealthCheck),
                        phases=[Phase.generate, Phase.shrink], report_multiple_bugs=False)(test)
        run += 1
        try:
            test()
        except Exception as exc:  # a property failed: keep its minimal example, go on fuzzing
            key = f"{name}: {type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"
            example = "\n".join(getattr(exc, "__notes__", []))[:2000]
            if key not in result.failures:
                result.failures[key] = example
                print(f"  FAILURE {key}\n{example}", flush=True)
    result.seconds = round(time.monotonic() - started, 1)


def counting(result: Result, check):
    # No early return once the budget is spent: hypothesis must see the same draws when it
    # replays an example, so a run always finishes its CHUNK examples.
    def counted(**kwargs):
        result.inputs += 1
        check(**kwargs)

    return counted


def inner(test):
    """The body of a @given test, without its strategies and settings (hypothesis's public API)."""
    return test.hypothesis.inner_test


# ---- targets -------------------------------------------------------------------------------


def loaders(result: Result, budget: Budget, base_seed: int | None) -> None:
    fuzz(result, budget, [
        ("any bytes under any name", inner(lp.test_any_bytes_under_any_name_load_or_are_skipped_with_a_reason),
         {"file": lp.any_file}),
        ("text files exact or skipped", inner(lp.test_a_text_file_is_its_text_exactly_or_is_skipped_as_not_utf8),
         {"content": hostile.text_bytes, "suffix": lp.text_suffixes}),
        ("deep HTML", inner(lp.test_html_text_survives_deep_nesting),
         {"paragraphs": lp.html_paragraphs, "tags": lp.html_tags, "depth": lp.html_depths}),
        ("truncated PDF", inner(lp.test_a_pdf_loads_whole_or_truncated_is_skipped),
         {"lines": lp.pdf_lines, "cut": lp.pdf_cuts}),
        ("bad sidecar", inner(lp.test_a_bad_sidecar_skips_its_file_with_a_reason_naming_the_sidecar),
         {"sidecar": hostile.sidecar_bytes}),
        ("SQuAD articles", inner(lp.test_a_squad_file_gives_every_article_with_all_its_paragraphs),
         {"articles": lp.squad_articles}),
        ("folder with bad files", inner(lp.test_one_bad_file_never_hides_another), {"files": lp.folders, "data": st.data()}),
    ], base_seed)


def splitter(result: Result, budget: Budget, base_seed: int | None) -> None:
    doc_and_window = {"doc": sp.documents, "window": sp.windows}
    fuzz(result, budget, [
        ("exact offsets", inner(sp.test_every_offset_is_exact), doc_and_window),
        ("visible text covered", inner(sp.test_the_sentences_cover_every_visible_character_of_the_body),
         {"doc": sp.documents}),
        ("nothing left out", inner(sp.test_a_sentence_is_left_out_only_when_it_has_no_words_repeats_one_or_is_in_a_digest),
         doc_and_window),
    ], base_seed)


def question(result: Result, budget: Budget, base_seed: int | None) -> None:
    from retrieval import Engine, Settings, Turn, ingest, load_paths

    work = Path(tempfile.mkdtemp(prefix="qa-fuzz-"))
    try:
        shutil.copytree(ROOT / "corpus", work / "docs")
        (work / "docs" / "unicode.txt").write_text(qp.UNICODE_DOC, encoding="utf-8")
        settings_ = Settings(data_dir=work / "data", chroma_host=None, _env_file=None)
        ingest([str(work / "docs")], "default", settings_, progress=False)
        corpus = {doc.source: doc.text for doc in load_paths([work / "docs"])}
        engine = Engine(settings_)
        fuzz(result, budget, [
            ("answer or usage error", lambda question: qp.check(engine, corpus, question), {"question": hostile.questions}),
            ("follow-up", lambda question, earlier: qp.check(engine, corpus, question, [Turn(earlier)]),
             {"question": hostile.questions, "earlier": hostile.questions.map(lambda q: q.strip()[:1000] or "earlier")}),
        ], base_seed)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def slack(result: Result, budget: Budget, base_seed: int | None) -> None:
    work = Path(tempfile.mkdtemp(prefix="qa-fuzz-serve-"))
    fake = FakeSlack()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QA_", "CHROMA_", "SLACK_"))}
    env.update({"QA_DATA_DIR": str(work / "data"), "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT),
                "SLACK_API_URL": fake.api_url, "SLACK_BOT_TOKEN": "xoxb-fuzz", "SLACK_SIGNING_SECRET": SECRET})
    subprocess.run([sys.executable, "-m", "bot.cli", "ingest", str(ROOT / "corpus")], env=env, check=True, capture_output=True)
    with __import__("socket").socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = work / "serve.log"
    server = start_serve(env, port, open(log, "w"))
    url = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(timeout=30) as client:
            def http_request(request):
                status = hostile.send(client, url, SECRET, request)
                result.statuses[status] += 1
                assert status < 500, f"HTTP {status}"
                assert server.poll() is None, "qa serve exited"

            def raw_request(raw):
                status = hostile.send_raw(port, raw)
                result.statuses["no reply (closed)" if status is None else status] += 1
                assert status is None or status < 500, f"HTTP {status}"

            fuzz(result, budget, [
                ("HTTP request", http_request, {"request": hostile.slack_requests()}),
                ("HTTP request", http_request, {"request": hostile.slack_requests()}),
                ("HTTP request", http_request, {"request": hostile.slack_requests()}),
                ("raw bytes on the socket", raw_request, {"raw": hostile.raw_requests}),
            ], base_seed)
            health = httpx.get(f"{url}/health", timeout=10).status_code
        text = log.read_text()
        result.notes = {
            "health_after": health,
            "server_alive_after": server.poll() is None,
            "uvicorn_500s": text.count("Exception in ASGI application"),
            "malformed_payloads_refused": text.count("Failed to handle a request"),
            "answers_posted": len(fake.posts()),
        }
        if health != 200 or result.notes["uvicorn_500s"] or not result.notes["server_alive_after"]:
            result.failures["server after fuzzing"] = json.dumps(result.notes)
    finally:
        server.terminate()
        server.wait(timeout=30)
        fake.close()
        shutil.rmtree(work, ignore_errors=True)


TARGETS = {"loaders": loaders, "splitter": splitter, "question": question, "slack": slack}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60, help="time budget per target")
    parser.add_argument("--max-inputs", type=int, default=None, help="stop a target after this many inputs")
    parser.add_argument("--targets", default=",".join(TARGETS))
    parser.add_argument("--seed", type=int, default=None, help="for a reproducible run")
    parser.add_argument("--json", type=Path, default=None, help="also write the summary here")
    args = parser.parse_args()
    assert 0 < args.seconds <= 3600, "bounded runs only"
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    logging.disable(logging.WARNING)  # pypdf, bs4 and Bolt complain loudly about the inputs, as they should
    warnings.simplefilter("ignore")

    results = []
    for name in args.targets.split(","):
        result = Result(name)
        print(f"fuzzing {name} for {args.seconds:.0f} s ...", flush=True)
        TARGETS[name](result, Budget(args.seconds, args.max_inputs), args.seed)
        results.append(result)

    print(f"\n{'target':10} {'inputs':>8} {'seconds':>8} {'failures':>9}  notes")
    for r in results:
        notes = dict(r.notes)
        if r.statuses:
            notes["statuses"] = dict(sorted(r.statuses.items(), key=lambda kv: str(kv[0])))
        print(f"{r.target:10} {r.inputs:>8} {r.seconds:>8.0f} {len(r.failures):>9}  "
              f"{json.dumps(notes) if notes else ''}")
    for r in results:
        for key, example in r.failures.items():
            print(f"\n[{r.target}] {key}\n{example}")
    if args.json:
        args.json.write_text(json.dumps([{"target": r.target, "inputs": r.inputs, "seconds": r.seconds,
                                          "failures": r.failures, "statuses": {str(k): v for k, v in r.statuses.items()},
                                          **r.notes} for r in results], indent=2))
    sys.exit(1 if any(r.failures for r in results) else 0)


if __name__ == "__main__":
    main()
