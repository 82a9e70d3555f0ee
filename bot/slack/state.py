"""What the Slack app must remember across requests and restarts, in one SQLite file in the
data directory: events already handled (Slack retries), answers (for feedback and "post to
channel"), the conversation in each thread the bot answered, the channel each assistant
thread is viewing, and feedback votes.

Data at rest: the file is created readable by its owner only (0600), and every row that
holds a question or an answer is deleted once older than the retention period
(QA_SLACK_RETENTION_DAYS). A user has one vote per answer; clicking again changes it.

Crash safety: every write is one SQLite transaction (autocommit, or an explicit one where a
write takes two statements), the journal is a write-ahead log, and synchronous=FULL makes a
commit reach the disk before the call returns. A process killed at any moment (SIGKILL
included) therefore loses at most the write it was making, never one that had returned,
and leaves a file SQLite opens cleanly; several bot processes may share the file.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from slack_bolt.context.assistant.thread_context import AssistantThreadContext
from slack_bolt.context.assistant.thread_context_store.store import AssistantThreadContextStore

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
CREATE TABLE IF NOT EXISTS thread_contexts (
    channel_id TEXT NOT NULL, thread_ts TEXT NOT NULL, context TEXT NOT NULL, created REAL NOT NULL,
    PRIMARY KEY (channel_id, thread_ts));
CREATE INDEX IF NOT EXISTS answers_created ON answers (created);
CREATE INDEX IF NOT EXISTS turns_created ON turns (created);
CREATE INDEX IF NOT EXISTS feedback_created ON feedback (created);
"""
# Files from before one-vote-per-user kept every click: keep each user's last, then enforce it.
VOTES = """
DELETE FROM feedback WHERE rowid NOT IN (SELECT MAX(rowid) FROM feedback GROUP BY answer_id, user);
CREATE UNIQUE INDEX IF NOT EXISTS feedback_vote ON feedback (answer_id, user);
"""
EVENT_TTL = 24 * 3600  # Slack retries within minutes; a day is ample
PURGE_EVERY = 3600.0  # seconds between deletions of expired rows
DAY = 86400.0

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FeedbackSummary:
    corpus: str
    helpful: int
    not_helpful: int


class SlackState:
    def __init__(self, path: Path, retention_days: float = 30):
        self.path, self.retention = path, retention_days * DAY
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # Questions (DMs included) are personal data: owner-only from the first byte. SQLite
            # gives its -wal and -shm files the database file's permissions.
            os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
            os.chmod(path, 0o600)
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
        except (OSError, sqlite3.Error) as exc:
            raise QAError(f"cannot open {path}: {exc}; set QA_DATA_DIR or --data-dir") from exc
        try:
            mode = self._db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(SCHEMA)
            if not self._db.execute("SELECT 1 FROM sqlite_master WHERE name = 'feedback_vote'").fetchone():
                with self._transaction():
                    for statement in filter(str.strip, VOTES.split(";")):
                        self._db.execute(statement)
        except sqlite3.DatabaseError as exc:  # not SQLite, or damaged beyond opening
            self._db.close()
            raise QAError(f"{path} is damaged ({exc}); move it aside (qa serve then starts a new one) "
                          "or restore it from a backup") from exc
        if mode != "wal":  # e.g. a network file system: still atomic (rollback journal), less concurrent
            log.warning("%s: SQLite could not use a write-ahead log here (journal_mode=%s)", path, mode)
        self._lock = threading.Lock()
        self._purged = 0.0
        self.thread_contexts = ThreadContextStore(self)

    @classmethod
    def in_data_dir(cls, data_dir: Path, retention_days: float = 30) -> "SlackState":
        return cls(data_dir / "slack.sqlite3", retention_days)

    def purge_expired(self, now: float | None = None) -> int:
        """Delete every question, answer, thread turn, thread context and vote older than
        the retention period; returns how many rows went."""
        cutoff = (time.time() if now is None else now) - self.retention
        with self._lock, self._transaction():
            deleted = sum(self._db.execute(f"DELETE FROM {table} WHERE created < ?", (cutoff,)).rowcount
                          for table in ("answers", "turns", "feedback", "thread_contexts"))
        self._purged = time.monotonic()
        if deleted:
            log.info("deleted %d stored questions/answers older than %g days", deleted, self.retention / DAY)
        return deleted

    def _purge_now_and_then(self) -> None:
        if time.monotonic() - self._purged > PURGE_EVERY or not self._purged:
            self.purge_expired()

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
        self._purge_now_and_then()
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
        """`user`'s vote on the answer; a later click replaces their earlier one."""
        stored = self.load_answer(answer_id)
        if stored is None:
            return False
        answer, corpus = stored
        citations = json.dumps([c.__dict__ for c in answer.citations])
        self._run("INSERT INTO feedback VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (answer_id, user) DO UPDATE "
                  "SET helpful = excluded.helpful, channel = excluded.channel, created = excluded.created",
                  (answer_id, int(helpful), answer.question, answer.answer, citations, corpus, user, channel, time.time()))
        return True

    def feedback_rows(self) -> list[dict]:
        cursor = self._run("SELECT * FROM feedback ORDER BY created")
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row)) for row in cursor.fetchall()]

    def feedback_summary(self) -> list[FeedbackSummary]:
        rows = self._run("SELECT corpus, SUM(helpful), SUM(1 - helpful) FROM feedback GROUP BY corpus ORDER BY corpus").fetchall()
        return [FeedbackSummary(c, int(h), int(n)) for c, h, n in rows]



class ThreadContextStore(AssistantThreadContextStore):
    """Bolt's assistant thread-context store, kept in the state file (so the channel a panel
    thread is viewing survives a restart) rather than in message metadata."""

    def __init__(self, state: SlackState):
        self.state = state

    def save(self, *, channel_id: str, thread_ts: str, context: dict[str, str]) -> None:
        self.state._run("INSERT INTO thread_contexts VALUES (?, ?, ?, ?) ON CONFLICT (channel_id, thread_ts) DO UPDATE "
                        "SET context = excluded.context, created = excluded.created",
                        (channel_id, thread_ts, json.dumps(dict(context)), time.time()))

    def find(self, *, channel_id: str, thread_ts: str) -> AssistantThreadContext | None:
        row = self.state._run("SELECT context FROM thread_contexts WHERE channel_id = ? AND thread_ts = ?",
                              (channel_id, thread_ts)).fetchone()
        context = json.loads(row[0]) if row else None
        return AssistantThreadContext(context) if context and context.get("channel_id") else None
