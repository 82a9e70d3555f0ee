"""What the Slack app must remember across requests and restarts, in one SQLite file in the
data directory: events already handled (Slack retries), answers (for feedback and "post to
channel"), the conversation in each thread the bot answered, and feedback clicks.

Crash safety: every write is one SQLite transaction (autocommit, or an explicit one where a
write takes two statements), the journal is a write-ahead log, and synchronous=FULL makes a
commit reach the disk before the call returns. A process killed at any moment (SIGKILL
included) therefore loses at most the write it was making, never one that had returned,
and leaves a file SQLite opens cleanly; several bot processes may share the file.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from retrieval.errors import QAError
from retrieval.types import Answer, Turn

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (event_id TEXT PRIMARY KEY, seen REAL NOT NULL);
CREATE TABLE IF NOT EXISTS answers (
    id TEXT PRIMARY KEY, question TEXT NOT NULL, corpus TEXT NOT NULL, answer TEXT NOT NULL,
    created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS turns (
    channel TEXT NOT NULL, thread_ts TEXT NOT NULL, question TEXT NOT NULL, cited TEXT NOT NULL,
    created REAL NOT NULL);
CREATE INDEX IF NOT EXISTS turns_thread ON turns (channel, thread_ts);
CREATE TABLE IF NOT EXISTS feedback (
    answer_id TEXT NOT NULL, helpful INTEGER NOT NULL, question TEXT NOT NULL, answer TEXT NOT NULL,
    citations TEXT NOT NULL, corpus TEXT NOT NULL, user TEXT NOT NULL, channel TEXT NOT NULL,
    created REAL NOT NULL);
"""
EVENT_TTL = 24 * 3600  # Slack retries within minutes; a day is ample

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FeedbackSummary:
    corpus: str
    helpful: int
    not_helpful: int


class SlackState:
    def __init__(self, path: Path):
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
        except (OSError, sqlite3.Error) as exc:
            raise QAError(f"cannot open {path}: {exc}; set QA_DATA_DIR or --data-dir") from exc
        try:
            mode = self._db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(SCHEMA)
        except sqlite3.DatabaseError as exc:  # not SQLite, or damaged beyond opening
            self._db.close()
            raise QAError(f"{path} is damaged ({exc}); move it aside (qa serve then starts a new one) "
                          "or restore it from a backup") from exc
        if mode != "wal":  # e.g. a network file system: still atomic (rollback journal), less concurrent
            log.warning("%s: SQLite could not use a write-ahead log here (journal_mode=%s)", path, mode)
        self._lock = threading.Lock()

    @classmethod
    def in_data_dir(cls, data_dir: Path) -> "SlackState":
        return cls(data_dir / "slack.sqlite3")

    def _run(self, sql: str, args: tuple = ()) -> sqlite3.Cursor:
        with self._lock:
            return self._db.execute(sql, args)

    def claim_event(self, event_id: str) -> bool:
        """True the first time an event id is seen: only that delivery is answered."""
        now = time.time()
        with self._lock, self._transaction():
            self._db.execute("DELETE FROM events WHERE seen < ?", (now - EVENT_TTL,))
            return self._db.execute("INSERT OR IGNORE INTO events VALUES (?, ?)", (event_id, now)).rowcount == 1

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """BEGIN IMMEDIATE ... COMMIT (ROLLBACK on error): the statements land together or not
        at all, and another process's write waits for this one rather than interleaving."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def integrity_problem(self) -> str | None:
        """What SQLite's own check finds wrong with the file, or None (qa doctor)."""
        with self._lock:
            result = self._db.execute("PRAGMA quick_check").fetchone()[0]
        return None if result == "ok" else result

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def save_answer(self, answer: Answer, corpus: str) -> str:
        answer_id = uuid.uuid4().hex[:16]
        self._run("INSERT INTO answers VALUES (?, ?, ?, ?, ?)",
                  (answer_id, answer.question, corpus, json.dumps(answer.to_dict()), time.time()))
        return answer_id

    def load_answer(self, answer_id: str) -> tuple[Answer, str] | None:
        row = self._run("SELECT answer, corpus FROM answers WHERE id = ?", (answer_id,)).fetchone()
        if row is None:
            return None
        return Answer.from_dict(json.loads(row[0])), row[1]

    def add_turn(self, channel: str, thread_ts: str, answer: Answer) -> None:
        cited = [[c.source, c.start, c.end] for c in answer.citations]
        self._run("INSERT INTO turns VALUES (?, ?, ?, ?, ?)", (channel, thread_ts, answer.question, json.dumps(cited), time.time()))

    def history(self, channel: str, thread_ts: str) -> list[Turn]:
        rows = self._run("SELECT question, cited FROM turns WHERE channel = ? AND thread_ts = ? ORDER BY created",
                         (channel, thread_ts)).fetchall()
        return [Turn(q, tuple(tuple(c) for c in json.loads(cited))) for q, cited in rows]

    def record_feedback(self, answer_id: str, helpful: bool, user: str, channel: str) -> bool:
        stored = self.load_answer(answer_id)
        if stored is None:
            return False
        answer, corpus = stored
        citations = json.dumps([c.__dict__ for c in answer.citations])
        self._run("INSERT INTO feedback VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                  (answer_id, int(helpful), answer.question, answer.answer, citations, corpus, user, channel, time.time()))
        return True

    def feedback_rows(self) -> list[dict]:
        cursor = self._run("SELECT * FROM feedback ORDER BY created")
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row)) for row in cursor.fetchall()]

    def feedback_summary(self) -> list[FeedbackSummary]:
        rows = self._run("SELECT corpus, SUM(helpful), SUM(1 - helpful) FROM feedback GROUP BY corpus ORDER BY corpus").fetchall()
        return [FeedbackSummary(c, int(h), int(n)) for c, h, n in rows]

