"""Helpers for the robustness tests: real documents to ingest, and an audit of an index
(everything that must be zero after any crash followed by a re-run)."""

from __future__ import annotations

import json
import os
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

from retrieval.search.lexical import lexical_index
from retrieval.settings import Settings
from retrieval.store.client import close_client, open_client
from retrieval.store.corpus import CorpusStore
from retrieval.store.naming import model_cache
from tests.support.seed import EVAL_DIR, ROOT

CLEAN = {"duplicate_passages": 0, "orphan_sentences": 0, "missing_sentences": 0, "incomplete_documents": 0,
         "stale_passages": 0, "lexical_mismatch": 0, "unfinished_write": None}


def squad_documents(folder: Path, documents: int, paragraphs: int, first: int = 0) -> dict[Path, str]:
    """`documents` text files of `paragraphs` SQuAD paragraphs each (real prose, all
    different); returns each file's first sentence, a question only it answers verbatim."""
    data = json.loads((EVAL_DIR / "squad-v1.1-dev.json").read_text())["data"]
    contexts = [p["context"] for article in data for p in article["paragraphs"]]
    folder.mkdir(parents=True, exist_ok=True)
    firsts = {}
    for number in range(documents):
        start = first + number * paragraphs
        text = "\n\n".join(contexts[start : start + paragraphs])
        path = folder / f"doc{number:03d}.txt"
        path.write_text(text)
        firsts[path] = re.split(r"(?<=[.!?])\s", text, maxsplit=1)[0]
    return firsts


def audit(settings: Settings, corpus: str) -> dict:
    """store.audit(), plus: passages whose text is no longer their file's at their offsets
    (stale), whether a fresh reader's lexical index holds exactly the passages, and the
    documents held whole."""
    client = open_client(settings)
    try:
        store = CorpusStore(client, settings, corpus, embed_model=None)
        found = store.audit()
        passage_ids, stale = set(), 0
        for pid, text, meta in store.iter_passages():
            passage_ids.add(pid)
            source = Path(meta["source"])
            stale += not source.is_file() or source.read_text()[meta["start"] : meta["end"]] != text
        found["stale_passages"] = stale
        found["lexical_mismatch"] = len(set(lexical_index(store, settings.data_dir / "lexical").ids) ^ passage_ids)
        found["documents"] = {source for source, state in store.documents().items() if state.complete}
        return found
    finally:
        close_client(client)


def problems(found: dict) -> dict:
    return {k: found[k] for k in CLEAN if found[k] != CLEAN[k]}


def qa_env(settings: Settings, **extra: str) -> dict:
    env = {**os.environ, "QA_DATA_DIR": str(settings.data_dir), "QA_MODEL_CACHE": str(model_cache(settings)),
           "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT), **extra}
    if settings.server_mode:
        env.update(CHROMA_HOST=settings.chroma_host, CHROMA_PORT=str(settings.chroma_port))
    return env


class IngestProcess:
    """`qa ingest` in a subprocess whose progress bar we read (it draws one on a terminal,
    so its stderr is a pseudo-terminal): the count of passages it has committed."""

    PROGRESS = re.compile(rb"(\d+)/(\d+) \[")

    def __init__(self, paths: list[Path], corpus: str, env: dict):
        import fcntl
        import pty
        import struct
        import termios

        # Redrawn at every committed document (tqdm reads TQDM_* overrides): by default it
        # redraws at most every 0.1 s, and a kill timed on a stale count landed documents later.
        env = {**env, "TQDM_MININTERVAL": "0", "TQDM_MINITERS": "1"}
        master, slave = pty.openpty()
        # A new pseudo-terminal is 0 columns wide, and tqdm draws nothing in no columns.
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 200, 0, 0))
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "ingest", *map(str, paths), "--corpus", corpus],
            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=slave, cwd=ROOT)
        os.close(slave)
        self.master, self.output = master, b""

    def wait_for(self, fraction: float, timeout: float = 180) -> tuple[int, int] | None:
        """Block until it has committed at least `fraction` of its passages; (done, total),
        or None if it finished first."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.master], [], [], 0.2)
            if ready:
                try:
                    self.output += os.read(self.master, 65536)
                except OSError:  # the child closed the terminal: it has exited
                    return None
                found = self.PROGRESS.findall(self.output[-400:])
                if found:
                    done, total = map(int, found[-1])
                    if total and done / total >= fraction and done > 0:
                        return done, total
            elif self.process.poll() is not None:
                return None
        raise AssertionError(f"qa ingest made no progress in {timeout:.0f} s: {self.output[-500:]!r}")

    def pause(self) -> None:
        """SIGSTOP: it stays mid-run, lease held, while the test reads the corpus for as
        long as that takes on a loaded machine."""
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.process.send_signal(signal.SIGCONT)

    def kill(self) -> None:
        self.process.kill()  # SIGKILL: no finally, no atexit, nothing flushed
        self.process.wait(timeout=30)
        os.close(self.master)


FEEDBACK_WRITER = """
import sys
from pathlib import Path
from bot.slack.state import SlackState
from retrieval.types import Answer
state = SlackState(Path(sys.argv[1]))
for n in range(100000):
    answer_id = state.save_answer(Answer(f"question {sys.argv[2]}-{n}?", "answer", False, []), "default")
    assert state.record_feedback(answer_id, n % 2 == 0, "U1", "C1")
    print(answer_id, flush=True)  # printed only once the feedback is committed
"""


def kill_feedback_writers(path: Path, rounds: int, rng, clicks: tuple[int, int]) -> set[str]:
    """Two processes record feedback into `path`; each round both are SIGKILLed after a
    random number of clicks (between `clicks`). Returns the ids they reported committed."""
    committed: set[str] = set()
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    for round_ in range(rounds):
        writers = [subprocess.Popen([sys.executable, "-c", FEEDBACK_WRITER, str(path), f"{round_}{w}"], env=env,
                                    stdout=subprocess.PIPE, text=True) for w in range(2)]
        for writer in writers:
            for _ in range(rng.randint(*clicks)):
                committed.add(writer.stdout.readline().strip())
        for writer in writers:
            writer.kill()
            committed.update(line.strip() for line in writer.stdout.read().splitlines() if line.strip())
            writer.wait()
    return committed
