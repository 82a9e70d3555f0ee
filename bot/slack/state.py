"""What the Slack app must remember across requests, restarts and replicas: events claimed
(Slack retries), answers (for feedback and "post to channel"), the conversation in each
thread the bot answered, the channel each assistant thread is viewing, and feedback votes.

One schema (TABLES below), through SQLAlchemy Core, in one of two databases:
- by default one SQLite file in the data directory (one bot process, or several on one
  machine);
- with QA_STATE_URL=postgresql://..., a PostgreSQL database shared by every replica.

Data at rest: the SQLite file is created readable by its owner only (0600), and every row
that holds a question or an answer is deleted once older than the retention period
(QA_SLACK_RETENTION_DAYS). A user has one vote per answer; clicking again changes it.

Several replicas: claiming an event is one INSERT ... ON CONFLICT DO NOTHING, so exactly one
replica wins it. The claim records who and when, and the question as plain data (never a
token); posting the answer marks it done and forgets the question. While a replica works on
a claim it renews the claim's time (SlackState.renew_held, called by its sweeper). A claim
neither done nor renewed for QA_STATE_CLAIM_TIMEOUT seconds (its replica died mid-answer) is
taken over by one UPDATE whose WHERE names the claim's old holder and time, so of several
replicas exactly one wins it: a Slack retry reaching any replica (claim_event), or the sweeper
of any replica (take_over_stale, bot/slack/sweeper.py). After MAX_ATTEMPTS answers begun and
never finished, the claim is given up (done, failed) rather than tried forever.

Crash safety: every write is one transaction. On SQLite each begins IMMEDIATE (another
process's write waits rather than interleaving), the journal is a write-ahead log and
synchronous=FULL makes a commit reach the disk before the call returns.

Schema versions: `schema_version` holds the version; MIGRATIONS bring an older database up
to date at start, in one transaction under a lock (PostgreSQL: an advisory lock; SQLite:
BEGIN IMMEDIATE), so replicas starting together migrate once.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import sqlalchemy as sa
from slack_bolt.context.assistant.thread_context import AssistantThreadContext
from slack_bolt.context.assistant.thread_context_store.store import AssistantThreadContextStore
from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, Connection, Engine, make_url

from retrieval.errors import QAError
from retrieval.settings import Settings
from retrieval.store.naming import slack_state
from retrieval.types import Answer, Turn

EVENT_TTL = 24 * 3600  # Slack retries within minutes; a day is ample
PURGE_EVERY = 3600.0  # seconds between deletions of expired rows
DAY = 86400.0
MIGRATION_LOCK = 0x51A_57A7E  # PostgreSQL advisory lock key: one migrating replica at a time
MAX_ATTEMPTS = 3  # answers begun for one event before it is given up (a question that kills every replica)
HOLD_TIMEOUTS = 10  # a replica renews a claim it works on for at most this many claim timeouts
TAKE_OVER_AT_ONCE = 8  # stale claims one sweep takes (the answering pool's size): the rest go to later sweeps

log = logging.getLogger(__name__)

META = sa.MetaData()
EVENTS = sa.Table(
    "events", META,
    sa.Column("event_id", sa.Text, primary_key=True),
    sa.Column("claimed_by", sa.Text, nullable=False),
    sa.Column("claimed_at", sa.Float, nullable=False),
    sa.Column("done", sa.Boolean, nullable=False, default=False),
    # The question as JSON (bot/slack/questions.py), so that another replica can answer it;
    # NULL for events that are not questions, and once the claim is done.
    sa.Column("question", sa.Text, nullable=True),
    sa.Column("attempts", sa.Integer, nullable=False, default=1, server_default="1"),
    sa.Column("failed", sa.Boolean, nullable=False, default=False, server_default=sa.false()),
    sa.Index("events_open", "done", "claimed_at"),
)
ANSWERS = sa.Table(
    "answers", META,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("question", sa.Text, nullable=False),
    sa.Column("corpus", sa.Text, nullable=False),
    sa.Column("answer", sa.Text, nullable=False),
    sa.Column("created", sa.Float, nullable=False, index=True),
)
TURNS = sa.Table(
    "turns", META,
    sa.Column("channel", sa.Text, nullable=False),
    sa.Column("thread_ts", sa.Text, nullable=False),
    sa.Column("question", sa.Text, nullable=False),
    sa.Column("cited", sa.Text, nullable=False),
    sa.Column("created", sa.Float, nullable=False, index=True),
    sa.Index("turns_thread", "channel", "thread_ts"),
)
FEEDBACK = sa.Table(
    "feedback", META,
    sa.Column("answer_id", sa.Text, nullable=False),
    sa.Column("helpful", sa.Integer, nullable=False),
    sa.Column("question", sa.Text, nullable=False),
    sa.Column("answer", sa.Text, nullable=False),
    sa.Column("citations", sa.Text, nullable=False),
    sa.Column("corpus", sa.Text, nullable=False),
    sa.Column("user", sa.Text, nullable=False),
    sa.Column("channel", sa.Text, nullable=False),
    sa.Column("created", sa.Float, nullable=False, index=True),
    sa.Column("team", sa.Text, nullable=True),  # the app's workspace the vote came from (NULL: before version 4)
    sa.Index("feedback_vote", "answer_id", "user", unique=True),
)
THREAD_CONTEXTS = sa.Table(
    "thread_contexts", META,
    sa.Column("channel_id", sa.Text, primary_key=True),
    sa.Column("thread_ts", sa.Text, primary_key=True),
    sa.Column("context", sa.Text, nullable=False),
    sa.Column("created", sa.Float, nullable=False),
)
# Installations through OAuth (bot/slack/install.py): slack_sdk's own SQLAlchemy tables, made
# here so that they share this database and its migrations. slack_installations and
# slack_bots hold each workspace's bot token (a secret at rest, like the rest of this file);
# slack_oauth_states the one-time state of each install started, until used or expired.
INSTALLATIONS = SQLAlchemyInstallationStore.build_installations_table(META, "slack_installations")
BOTS = SQLAlchemyInstallationStore.build_bots_table(META, "slack_bots")
OAUTH_STATES = SQLAlchemyOAuthStateStore.build_oauth_states_table(META, "slack_oauth_states")
SCHEMA_VERSION = sa.Table("schema_version", META, sa.Column("version", sa.Integer, nullable=False))
RETAINED = (ANSWERS, TURNS, FEEDBACK, THREAD_CONTEXTS)  # rows holding questions or answers


def _one_vote_per_user(db: Connection) -> None:
    # Only a SQLite file can be older than versioning (hence rowid). Files from before one-vote-per-user kept every click: keep each user's last, then enforce it.
    db.exec_driver_sql("DELETE FROM feedback WHERE rowid NOT IN (SELECT MAX(rowid) FROM feedback GROUP BY answer_id, user)")
    db.exec_driver_sql("CREATE UNIQUE INDEX IF NOT EXISTS feedback_vote ON feedback (answer_id, user)")


def events_v2(metadata: sa.MetaData) -> sa.Table:
    """The events table as schema version 2 made it (later migrations alter it from there)."""
    return sa.Table("events", metadata,
                    sa.Column("event_id", sa.Text, primary_key=True),
                    sa.Column("claimed_by", sa.Text, nullable=False),
                    sa.Column("claimed_at", sa.Float, nullable=False),
                    sa.Column("done", sa.Boolean, nullable=False, default=False))


def _claims(db: Connection) -> None:
    # events was (event_id, seen): rows that only matter for minutes, so it is remade with claims.
    EVENTS.drop(db, checkfirst=True)
    events_v2(sa.MetaData()).create(db)


def _replayable_claims(db: Connection) -> None:
    # Altered, not remade: replicas of the previous version may hold claims in it right now.
    false = "false" if db.dialect.name == "postgresql" else "0"
    db.exec_driver_sql("ALTER TABLE events ADD COLUMN question TEXT")
    db.exec_driver_sql("ALTER TABLE events ADD COLUMN attempts INTEGER NOT NULL DEFAULT 1")
    db.exec_driver_sql(f"ALTER TABLE events ADD COLUMN failed BOOLEAN NOT NULL DEFAULT {false}")
    db.exec_driver_sql("CREATE INDEX events_open ON events (done, claimed_at)")


def _installations(db: Connection) -> None:
    # New tables only, and a column votes did not have: replicas of version 3 go on working.
    tables = sa.MetaData()
    for table in (SQLAlchemyInstallationStore.build_installations_table(tables, "slack_installations"),
                  SQLAlchemyInstallationStore.build_bots_table(tables, "slack_bots"),
                  SQLAlchemyOAuthStateStore.build_oauth_states_table(tables, "slack_oauth_states")):
        table.create(db, checkfirst=True)
    if "team" not in {c["name"] for c in sa.inspect(db).get_columns("feedback")}:
        db.exec_driver_sql("ALTER TABLE feedback ADD COLUMN team TEXT")


# Version N is reached by applying MIGRATIONS[N-1] to a database at version N-1. A new
# database is made from TABLES directly and stamped with the latest version. Version 0 is a
# SQLite file from before versioning (issue 11's schema).
MIGRATIONS: list[Callable[[Connection], None]] = [_one_vote_per_user, _claims, _replayable_claims, _installations]
LATEST = len(MIGRATIONS)


@dataclass(frozen=True)
class StaleClaim:
    """A claim as read before taking it over (its holder and time must still match)."""

    event_id: str
    claimed_by: str
    claimed_at: float
    attempts: int
    question: str  # JSON


@dataclass(frozen=True)
class Claim:
    """A claim this replica took over from one that stopped working on it."""

    event_id: str
    question: dict  # as stored by claim_event (bot/slack/questions.py reads it)
    attempts: int  # answers begun for the event, this one included
    give_up: bool  # the attempts ran out: the claim is now done and failed; tell the asker, answer no more


@dataclass(frozen=True)
class FeedbackSummary:
    corpus: str
    helpful: int
    not_helpful: int


def state_url(settings: Settings) -> URL:
    """QA_STATE_URL, or the SQLite file in the data directory."""
    if settings.state_url is None:
        return URL.create("sqlite", database=str(slack_state(settings.data_dir)))
    url = make_url(settings.state_url.get_secret_value())
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")  # psycopg 3 is the driver installed
    return url


def shown(url: URL) -> str:
    """The URL for messages: never the password."""
    return url.render_as_string(hide_password=True)


def first_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    return (str(orig).strip().splitlines() or [type(orig).__name__])[0]


class SlackState:
    def __init__(self, where: Path | URL, retention_days: float = 30, claim_timeout: float = 60.0):
        self.url = where if isinstance(where, URL) else URL.create("sqlite", database=str(where))
        self.retention, self.claim_timeout = retention_days * DAY, claim_timeout
        self.path = Path(self.url.database) if self.url.get_backend_name() == "sqlite" else None
        self.where = str(self.path) if self.path else shown(self.url)
        self.replica = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.engine = self._connect()
        self._purged = 0.0
        # Claims of questions this replica is answering (or has queued): event id -> when it
        # took them (time.monotonic()). Their time is renewed so no other replica takes them.
        self._held: dict[str, float] = {}
        self._held_lock = threading.Lock()
        self.thread_contexts = ThreadContextStore(self)

    @classmethod
    def in_data_dir(cls, data_dir: Path, retention_days: float = 30) -> "SlackState":
        return cls(slack_state(data_dir), retention_days)

    @classmethod
    def from_settings(cls, settings: Settings) -> "SlackState":
        return cls(state_url(settings), settings.slack_retention_days, settings.state_claim_timeout)

    def _connect(self) -> Engine:
        if self.path is not None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                # Questions (DMs included) are personal data: owner-only from the first byte.
                # SQLite gives its -wal and -shm files the database file's permissions.
                os.close(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600))
                os.chmod(self.path, 0o600)
            except OSError as exc:
                raise QAError(f"cannot open {self.path}: {exc}; set QA_DATA_DIR or --data-dir") from exc
            engine = sa.create_engine(self.url, connect_args={"check_same_thread": False, "timeout": 30})
            sa.event.listen(engine, "connect", _sqlite_pragmas)
            # SQLAlchemy's recipe for explicit SQLite transactions: the driver leaves BEGIN to
            # us, and IMMEDIATE makes a second writer wait at BEGIN rather than fail at COMMIT.
            sa.event.listen(engine, "begin", lambda db: db.exec_driver_sql("BEGIN IMMEDIATE"))
        else:
            engine = sa.create_engine(self.url, pool_pre_ping=True, connect_args={"connect_timeout": 10})
        try:
            self._open(engine)
        except sa.exc.DatabaseError as exc:
            engine.dispose()
            if self.path is not None and not _busy(exc):  # not SQLite, or damaged beyond opening
                raise QAError(f"{self.path} is damaged ({first_line(exc)}); move it aside (qa serve then starts "
                              "a new one) or restore it from a backup") from None
            raise QAError(f"cannot use the state database {self.where}: {first_line(exc)}") from None
        except sa.exc.SQLAlchemyError as exc:
            engine.dispose()
            raise QAError(f"cannot use the state database {self.where}: {first_line(exc)}") from None
        return engine

    def _open(self, engine: Engine) -> None:
        for attempt in range(5):
            try:
                with engine.begin() as db:
                    self._migrate(db)
                return
            except sa.exc.OperationalError as exc:
                # Processes creating one new SQLite file together can meet in SQLite's
                # deadlock case (busy at once, no waiting): SQLite's advice is to retry.
                if self.path is None or not _busy(exc) or attempt == 4:
                    raise
                time.sleep(0.1 * (attempt + 1))

    def _migrate(self, db: Connection) -> None:
        if db.dialect.name == "postgresql":
            db.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        names = set(sa.inspect(db).get_table_names())
        if "answers" not in names:  # a new database
            META.create_all(db)
            db.execute(SCHEMA_VERSION.insert().values(version=LATEST))
            return
        if "schema_version" not in names:
            SCHEMA_VERSION.create(db)
            db.execute(SCHEMA_VERSION.insert().values(version=0))
        version = db.execute(sa.select(SCHEMA_VERSION.c.version)).scalar_one()
        if version > LATEST:
            raise QAError(f"the state database {self.where} is at schema version {version}, newer than this qa-bot "
                          f"knows ({LATEST}); upgrade qa-bot")
        for migration in MIGRATIONS[version:]:
            migration(db)
        if version < LATEST:
            db.execute(SCHEMA_VERSION.update().values(version=LATEST))
            log.info("state database %s migrated from schema version %d to %d", self.where, version, LATEST)

    def schema_version(self) -> int:
        with self.engine.connect() as db:
            return db.execute(sa.select(SCHEMA_VERSION.c.version)).scalar_one()

    def _insert(self, table: sa.Table):
        return (postgresql if self.engine.dialect.name == "postgresql" else sqlite).insert(table)

    def purge_expired(self, now: float | None = None) -> int:
        """Delete every question, answer, thread turn, thread context and vote older than
        the retention period; returns how many rows went."""
        cutoff = (time.time() if now is None else now) - self.retention
        with self.engine.begin() as db:
            deleted = sum(db.execute(table.delete().where(table.c.created < cutoff)).rowcount for table in RETAINED)
            # install states past their expiry (installs started and never finished): naive UTC, as slack_sdk stores them
            expired = datetime.fromtimestamp(time.time(), tz=timezone.utc).replace(tzinfo=None)
            db.execute(OAUTH_STATES.delete().where(OAUTH_STATES.c.expire_at < expired))
        self._purged = time.monotonic()
        if deleted:
            log.info("deleted %d stored questions/answers older than %g days", deleted, self.retention / DAY)
        return deleted

    def _purge_now_and_then(self) -> None:
        if time.monotonic() - self._purged > PURGE_EVERY or not self._purged:
            self.purge_expired()

    def claim_event(self, event_id: str, question: dict | None = None, now: float | None = None) -> bool:
        """True if this replica is to answer the event: it is new, or its earlier claim was
        neither done nor renewed within the claim timeout (that replica died mid-answer).
        `question` is what another replica would need to answer it (plain data, no token)."""
        now = time.time() if now is None else now
        stored = json.dumps(question) if question is not None else None
        with self.engine.begin() as db:
            db.execute(EVENTS.delete().where(EVENTS.c.claimed_at < now - EVENT_TTL))
            claim = dict(claimed_by=self.replica, claimed_at=now)
            new = (self._insert(EVENTS).values(event_id=event_id, done=False, question=stored, attempts=1,
                                               failed=False, **claim)
                   .on_conflict_do_nothing(index_elements=["event_id"]).returning(EVENTS.c.event_id))
            if db.execute(new).first() is not None:  # (an INSERT's rowcount is not reliable across drivers)
                self._hold(event_id, question)
                return True
            # One UPDATE with the staleness test in its WHERE: of two replicas retrying at once, one wins.
            stale = (EVENTS.update().where(EVENTS.c.event_id == event_id, EVENTS.c.done.is_(False),
                                           EVENTS.c.claimed_at < now - self.claim_timeout,
                                           EVENTS.c.attempts < MAX_ATTEMPTS)
                     .values(attempts=EVENTS.c.attempts + 1, **claim))
            taken = db.execute(stale).rowcount == 1
        if taken:
            log.warning("event %s: the claim was not done within %g s; answering it here", event_id, self.claim_timeout)
            self._hold(event_id, question)
        return taken

    def take_over_stale(self, now: float | None = None, limit: int = TAKE_OVER_AT_ONCE) -> list[Claim]:
        """The sweeper's half of claim_event, for questions whose replica died after Slack
        had its acknowledgement (so no retry comes): claims of questions neither done nor
        renewed within the claim timeout, each now this replica's, exactly one replica
        winning each. A claim past MAX_ATTEMPTS is given up instead: done and failed."""
        now = time.time() if now is None else now
        taken = [self.take_over(stale, now) for stale in self.stale_claims(now, limit)]
        return [claim for claim in taken if claim is not None]

    def stale_claims(self, now: float, limit: int = TAKE_OVER_AT_ONCE) -> list[StaleClaim]:
        """Claims of questions neither done nor renewed within the claim timeout, oldest first."""
        query = (sa.select(EVENTS.c.event_id, EVENTS.c.claimed_by, EVENTS.c.claimed_at, EVENTS.c.attempts,
                           EVENTS.c.question)
                 .where(EVENTS.c.done.is_(False), EVENTS.c.question.is_not(None),
                        EVENTS.c.claimed_at < now - self.claim_timeout)
                 .order_by(EVENTS.c.claimed_at).limit(limit))
        with self.engine.connect() as db:
            return [StaleClaim(*row) for row in db.execute(query)]

    def take_over(self, stale: StaleClaim, now: float) -> Claim | None:
        """`stale` made this replica's, or None if another replica took it (or its holder
        renewed it, or finished it) since it was read."""
        give_up = stale.attempts >= MAX_ATTEMPTS
        change = (dict(done=True, failed=True, question=None) if give_up  # forgotten: it will not be asked again
                  else dict(attempts=stale.attempts + 1))
        # The old holder and time in the WHERE: of replicas taking it at once, one matches.
        take = (EVENTS.update().where(EVENTS.c.event_id == stale.event_id, EVENTS.c.claimed_by == stale.claimed_by,
                                      EVENTS.c.claimed_at == stale.claimed_at, EVENTS.c.done.is_(False))
                .values(claimed_by=self.replica, claimed_at=now, **change))
        with self.engine.begin() as db:
            if db.execute(take).rowcount != 1:
                return None
        question = json.loads(stale.question)
        if not give_up:
            self._hold(stale.event_id, question)
        return Claim(stale.event_id, question, stale.attempts if give_up else stale.attempts + 1, give_up)

    def renew_held(self, now: float | None = None) -> int:
        """Renew the claims this replica is still working on, so that a slow answer (a long
        queue, a slow model) is not taken over while its replica lives; for at most
        HOLD_TIMEOUTS claim timeouts, so a stuck answer is still taken over in bounded time.
        Returns how many were renewed."""
        now = time.time() if now is None else now
        limit = time.monotonic() - HOLD_TIMEOUTS * self.claim_timeout
        with self._held_lock:
            for event_id in [e for e, since in self._held.items() if since < limit]:
                del self._held[event_id]
            held = list(self._held)
        if not held:
            return 0
        renew = (EVENTS.update().where(EVENTS.c.event_id.in_(held), EVENTS.c.claimed_by == self.replica,
                                       EVENTS.c.done.is_(False)).values(claimed_at=now))
        with self.engine.begin() as db:
            return db.execute(renew).rowcount

    def _hold(self, event_id: str, question: dict | None) -> None:
        if question is not None:  # only questions are taken over, so only they need renewing
            with self._held_lock:
                self._held.setdefault(event_id, time.monotonic())

    def release(self, event_id: str) -> None:
        """This replica no longer works on the event (answered, or its attempt failed: then
        the claim goes stale and another attempt follows)."""
        with self._held_lock:
            self._held.pop(event_id, None)

    def finish_event(self, event_id: str) -> None:
        """The answer to the event is posted: no retry or sweeper answers it again, and the
        question is no longer kept with the claim."""
        with self.engine.begin() as db:
            db.execute(EVENTS.update().where(EVENTS.c.event_id == event_id).values(done=True, question=None))
        self.release(event_id)

    def fail_event(self, event_id: str) -> None:
        """The event cannot be answered any more (recorded as failed; never tried again)."""
        with self.engine.begin() as db:
            db.execute(EVENTS.update().where(EVENTS.c.event_id == event_id).values(done=True, failed=True,
                                                                                  question=None))
        self.release(event_id)

    def integrity_problem(self) -> str | None:
        """What the database's own check finds wrong, or None (qa doctor)."""
        with self.engine.connect() as db:
            if db.dialect.name != "sqlite":
                db.execute(sa.text("SELECT 1"))
                return None
            result = db.exec_driver_sql("PRAGMA quick_check").scalar_one()
        return None if result == "ok" else result

    def close(self) -> None:
        self.engine.dispose()

    def save_answer(self, answer: Answer, corpus: str) -> str:
        self._purge_now_and_then()
        answer_id = uuid.uuid4().hex[:16]
        with self.engine.begin() as db:
            db.execute(ANSWERS.insert().values(id=answer_id, question=answer.question, corpus=corpus,
                                               answer=json.dumps(answer.to_dict()), created=time.time()))
        return answer_id

    def load_answer(self, answer_id: str) -> tuple[Answer, str] | None:
        with self.engine.connect() as db:
            row = db.execute(sa.select(ANSWERS.c.answer, ANSWERS.c.corpus).where(ANSWERS.c.id == answer_id)).first()
        if row is None:
            return None
        return Answer.from_dict(json.loads(row.answer)), row.corpus

    def add_turn(self, channel: str, thread_ts: str, answer: Answer) -> None:
        cited = [[c.source, c.start, c.end] for c in answer.citations]
        with self.engine.begin() as db:
            db.execute(TURNS.insert().values(channel=channel, thread_ts=thread_ts, question=answer.question,
                                             cited=json.dumps(cited), created=time.time()))

    def history(self, channel: str, thread_ts: str) -> list[Turn]:
        query = (sa.select(TURNS.c.question, TURNS.c.cited)
                 .where(TURNS.c.channel == channel, TURNS.c.thread_ts == thread_ts).order_by(TURNS.c.created))
        with self.engine.connect() as db:
            rows = db.execute(query).all()
        return [Turn(q, tuple(tuple(c) for c in json.loads(cited))) for q, cited in rows]

    def record_feedback(self, answer_id: str, helpful: bool, user: str, channel: str, team: str | None = None) -> bool:
        """`user`'s vote on the answer; a later click replaces their earlier one. `team`: the
        app's workspace it came from."""
        stored = self.load_answer(answer_id)
        if stored is None:
            return False
        answer, corpus = stored
        vote = self._insert(FEEDBACK).values(
            answer_id=answer_id, helpful=int(helpful), question=answer.question, answer=answer.answer,
            citations=json.dumps([c.__dict__ for c in answer.citations]), corpus=corpus, user=user, channel=channel,
            created=time.time(), team=team)
        vote = vote.on_conflict_do_update(index_elements=["answer_id", "user"], set_={
            "helpful": vote.excluded.helpful, "channel": vote.excluded.channel, "created": vote.excluded.created,
            "team": vote.excluded.team})
        with self.engine.begin() as db:
            db.execute(vote)
        return True

    def feedback_rows(self, team: str | None = None) -> list[dict]:
        """Every vote, oldest first; with `team`, only that workspace's."""
        query = sa.select(FEEDBACK).where(*_of_team(team)).order_by(FEEDBACK.c.created)
        with self.engine.connect() as db:
            return [dict(row._mapping) for row in db.execute(query)]

    def feedback_summary(self, team: str | None = None) -> list[FeedbackSummary]:
        helpful = sa.func.sum(FEEDBACK.c.helpful)
        query = (sa.select(FEEDBACK.c.corpus, helpful, sa.func.count() - helpful).where(*_of_team(team))
                 .group_by(FEEDBACK.c.corpus).order_by(FEEDBACK.c.corpus))
        with self.engine.connect() as db:
            return [FeedbackSummary(c, int(h), int(n)) for c, h, n in db.execute(query)]


def _of_team(team: str | None) -> list:
    return [FEEDBACK.c.team == team] if team is not None else []


def installed_workspaces(state: SlackState, client_id: str | None) -> list[str]:
    """Team IDs that installed the app with this client id (a bot token stored), for qa doctor."""
    query = (sa.select(BOTS.c.team_id).where(BOTS.c.client_id == client_id, BOTS.c.bot_token.is_not(None))
             .distinct().order_by(BOTS.c.team_id))
    with state.engine.connect() as db:
        return [team for (team,) in db.execute(query)]


def _busy(exc: BaseException) -> bool:
    return "database is locked" in str(exc) or "database is busy" in str(exc)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    dbapi_connection.isolation_level = None  # the "begin" listener issues BEGIN itself
    cursor = dbapi_connection.cursor()
    mode = cursor.execute("PRAGMA journal_mode").fetchone()[0]
    if mode != "wal":  # set once per file (it persists); setting it takes an exclusive lock
        mode = cursor.execute("PRAGMA journal_mode=WAL").fetchone()[0]
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.close()
    if mode != "wal":  # e.g. a network file system: still atomic (rollback journal), less concurrent
        log.warning("SQLite could not use a write-ahead log here (journal_mode=%s)", mode)


class ThreadContextStore(AssistantThreadContextStore):
    """Bolt's assistant thread-context store, kept in the state database (so the channel a
    panel thread is viewing survives a restart and is seen by every replica) rather than in
    message metadata."""

    def __init__(self, state: SlackState):
        self.state = state

    def save(self, *, channel_id: str, thread_ts: str, context: dict[str, str]) -> None:
        row = self.state._insert(THREAD_CONTEXTS).values(channel_id=channel_id, thread_ts=thread_ts,
                                                         context=json.dumps(dict(context)), created=time.time())
        row = row.on_conflict_do_update(index_elements=["channel_id", "thread_ts"],
                                        set_={"context": row.excluded.context, "created": row.excluded.created})
        with self.state.engine.begin() as db:
            db.execute(row)

    def find(self, *, channel_id: str, thread_ts: str) -> AssistantThreadContext | None:
        query = sa.select(THREAD_CONTEXTS.c.context).where(THREAD_CONTEXTS.c.channel_id == channel_id,
                                                           THREAD_CONTEXTS.c.thread_ts == thread_ts)
        with self.state.engine.connect() as db:
            row = db.execute(query).first()
        context = json.loads(row[0]) if row else None
        return AssistantThreadContext(context) if context and context.get("channel_id") else None
