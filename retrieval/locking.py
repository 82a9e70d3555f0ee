"""Who may use an index at the same time, and how the others wait.

Embedded Chroma (a PersistentClient on DATA_DIR/chroma) is a single-process store. Each
process keeps its own in-memory copy of the vector index and writes it back to the same
files; even a process that only reads rewrites them when it finds the index behind Chroma's
log. Two processes on one folder see stale vectors at best and wreck the index at worst
(docs/robustness.md has the measurements). So one process at a time opens an embedded
index: it holds an exclusive OS lock on DATA_DIR/chroma.lock for as long as its client is
open. The kernel drops the lock when the process ends, however it ends (SIGKILL included),
so a lock is never left behind. A `qa ingest` that finds `qa serve` holding the index
hands its work to the bot instead (bot/handoff.py): that is why StoreBusy carries the
holder's record.

A Chroma server serialises its own storage, so any number of processes may read and write
through it. What still needs care is two ingests of one corpus at once: each decides what
to skip from what the other has not written yet. So a corpus has one writer at a time,
holding a lease kept in the server itself: the collection `qa-<corpus>-writer`, whose
creation is atomic. The holder renews it with a heartbeat; a waiting writer takes it over
when the holder has stopped (its process is gone, or it stopped beating for STALE_AFTER).
"""

from __future__ import annotations

import json
import logging
import os
import socket
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .errors import QAError
from .reachability import reachable
from .settings import Settings

LOCK_FILE, OWNER_FILE = "chroma.lock", "chroma.owner.json"
LONG_RUNNING = {"qa serve", "qa chat"}  # waiting for these to finish is pointless
COMMANDS = {"ingest", "ask", "chat", "serve", "eval", "corpora", "remove", "doctor", "feedback"}
HEARTBEAT = 2.0  # seconds between renewals of a server lease
STALE_AFTER = 20.0  # a lease not renewed for this long (on the waiter's clock) is taken over
POLL = 0.25

log = logging.getLogger(__name__)


class StoreBusy(QAError):
    """Another qa process holds the index (embedded) or the corpus (server) for too long.

    `owner` is the holder's record (pid, host, command) when it is known: `qa ingest` hands
    its work to a holder that is `qa serve` (bot/handoff.py)."""

    def __init__(self, message: str, owner: dict | None = None):
        super().__init__(message)
        self.owner = owner


def process_label() -> str:
    """How this process is named to others that find it holding the index: `qa serve`..."""
    argv = sys.argv or [""]
    program = Path(argv[0]).name
    if program == "qa" or argv[0].endswith(os.path.join("bot", "cli.py")):
        command = next((a for a in argv[1:] if a in COMMANDS), None)
        if command:
            return f"qa {command}"
    return program if program not in ("", "-c") else "python"


def _owner_record() -> dict:
    return {"pid": os.getpid(), "host": socket.gethostname(), "command": process_label(), "since": time.time()}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        return True
    return True


# -- embedded: one process per data directory ----------------------------------------------


@dataclass
class _Hold:
    lock: object  # filelock.FileLock
    users: int = 0


_holds: dict[Path, _Hold] = {}
_holds_lock = threading.Lock()


def hold_embedded_store(settings: Settings) -> Path:
    """Take the data directory's store lock for this process, or share the one it already
    holds (threads and several clients of one process are fine: they share Chroma's
    in-memory state). Returns the key to give back to `release_embedded_store`."""
    from filelock import FileLock

    folder = settings.data_dir.resolve()
    with _holds_lock:
        hold = _holds.get(folder)
        if hold is None:
            # One FileLock object per folder and process: a second flock on another
            # descriptor of the same file would wait for ourselves.
            lock = FileLock(str(folder / LOCK_FILE), thread_local=False)
            _acquire_embedded(lock, folder, settings)
            try:
                (folder / OWNER_FILE).write_text(json.dumps(_owner_record()))
            except OSError:
                pass  # only used to name us in other processes' messages
            hold = _holds[folder] = _Hold(lock)
        hold.users += 1
    return folder


def release_embedded_store(folder: Path) -> None:
    with _holds_lock:
        hold = _holds.get(folder)
        if hold is None:
            return
        hold.users -= 1
        if hold.users <= 0:
            del _holds[folder]
            hold.lock.release()


def _acquire_embedded(lock, folder: Path, settings: Settings) -> None:
    from filelock import Timeout

    try:
        lock.acquire(blocking=False)
        return
    except Timeout:
        pass
    owner = _read_owner(folder)
    if owner is None or owner["command"] in LONG_RUNNING or settings.lock_wait == 0:
        raise StoreBusy(_busy_message(folder, owner, waited=None), owner)
    if sys.stderr.isatty():
        print(f"waiting for {_describe(owner)} to finish with {folder} ...", file=sys.stderr, flush=True)
    try:
        lock.acquire(timeout=settings.lock_wait)
    except Timeout:
        owner = _read_owner(folder)
        raise StoreBusy(_busy_message(folder, owner, waited=settings.lock_wait), owner) from None


def _read_owner(folder: Path) -> dict | None:
    try:
        owner = json.loads((folder / OWNER_FILE).read_text())
        if owner.get("host") == socket.gethostname() and not _alive(int(owner["pid"])):
            return None  # written by a process that is gone: whoever holds the lock now has not said
        return owner
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _describe(owner: dict | None) -> str:
    return f"`{owner['command']}` (pid {owner['pid']})" if owner else "another qa process"


def _busy_message(folder: Path, owner: dict | None, waited: float | None) -> str:
    server = (f"or share the index through a Chroma server (chroma run --path {folder / 'chroma'} --port 8000, "
              "then set CHROMA_HOST=localhost and CHROMA_PORT=8000)")
    if waited is None and owner and owner["command"] in LONG_RUNNING:
        return (f"the index in {folder} is in use by {_describe(owner)} and embedded Chroma allows one process "
                f"at a time: stop it first, {server}")
    after = f" after waiting {waited:g} s (QA_LOCK_WAIT)" if waited else ""
    return (f"the index in {folder} is still in use by {_describe(owner)}{after}; embedded Chroma allows one "
            f"process at a time: try again when it has finished, {server}")


# -- one writer per corpus -----------------------------------------------------------------


_corpus_mutexes: dict[tuple, threading.Lock] = {}
_corpus_mutexes_lock = threading.Lock()


@contextmanager
def corpus_writer(client, settings: Settings, corpus: str) -> Iterator[Lease]:
    """Be the only writer of `corpus` for the duration: threads of this process queue on a
    mutex; in server mode, processes (on any machine) queue on a lease in the server. With
    an embedded store the store lock already keeps every other process out."""
    where = (settings.chroma_host, settings.chroma_port) if settings.server_mode else (str(settings.data_dir.resolve()),)
    with _corpus_mutexes_lock:
        mutex = _corpus_mutexes.setdefault((*where, corpus), threading.Lock())
    if not mutex.acquire(timeout=settings.lock_wait):
        raise StoreBusy(f"corpus '{corpus}' is still being written by another thread of this process after "
                        f"{settings.lock_wait:g} s (QA_LOCK_WAIT); try again when it has finished")
    try:
        lease = Lease(client, settings, corpus) if settings.server_mode else Lease.local()
        with lease:
            yield lease
    finally:
        mutex.release()


def lease_collection(corpus: str) -> str:
    return f"qa-{corpus}-writer"


class Lease:
    """The right to write one corpus on a Chroma server (see the module docstring)."""

    def __init__(self, client, settings: Settings | None, corpus: str):
        self.client, self.settings, self.corpus = client, settings, corpus
        self.owner = {**_owner_record(), "token": uuid.uuid4().hex}
        self._collection_id = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.lost = False

    @classmethod
    def local(cls) -> Lease:
        return cls(None, None, "")

    def __enter__(self) -> Lease:
        if self.client is not None:
            self._acquire()
            self._thread = threading.Thread(target=self._beat, name=f"lease-{self.corpus}", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        if self.client is None:
            return
        self._stop.set()
        self._thread.join(timeout=HEARTBEAT + self.settings.chroma_timeout)
        try:
            current = self.client.get_collection(lease_collection(self.corpus), embedding_function=None)
            if current.id == self._collection_id:  # never delete a lease someone took over
                self.client.delete_collection(lease_collection(self.corpus))
        except Exception:  # gone already, or the server is down: a waiter takes it over when stale
            log.debug("could not release the lease on corpus %s", self.corpus, exc_info=True)

    def check(self) -> None:
        """Raise if another writer took the corpus over (this one stalled for STALE_AFTER)."""
        if self.lost:
            raise QAError(f"another ingest took over corpus '{self.corpus}' while this one was stalled; "
                          f"nothing is lost: run this ingest again")

    def _acquire(self) -> None:
        name = lease_collection(self.corpus)
        deadline = time.monotonic() + self.settings.lock_wait
        seen: tuple | None = None  # (holder's collection id, beat) and when we first saw it
        seen_at = 0.0
        announced = False
        while True:
            with reachable(self.settings):
                try:
                    created = self.client.create_collection(name, metadata={**self.owner, "beat": 0}, embedding_function=None)
                    self._collection_id = created.id
                    return
                except Exception as exc:
                    if "already exists" not in str(exc):
                        raise
                try:
                    current = self.client.get_collection(name, embedding_function=None)
                except Exception as exc:
                    if "does not exist" in str(exc):
                        continue  # released between our two calls: try again at once
                    raise
            holder = current.metadata or {}
            state = (current.id, holder.get("beat"))
            if state != seen:
                seen, seen_at = state, time.monotonic()
            dead = holder.get("host") == socket.gethostname() and not _alive(int(holder.get("pid", 0)))
            if dead or time.monotonic() - seen_at > STALE_AFTER:
                log.warning("taking over corpus '%s' from %s (%s)", self.corpus, _describe(holder),
                            "its process is gone" if dead else f"no heartbeat for {STALE_AFTER:g} s")
                with reachable(self.settings):
                    # Another waiter may take it over at the same instant; deleting only what we
                    # looked at keeps that window to the few milliseconds between two calls.
                    if self.client.get_collection(name, embedding_function=None).id == current.id:
                        self.client.delete_collection(name)
                continue
            if time.monotonic() > deadline:
                raise StoreBusy(
                    f"corpus '{self.corpus}' is still being ingested by {_describe(holder)} on {holder.get('host', '?')} "
                    f"after waiting {self.settings.lock_wait:g} s (QA_LOCK_WAIT); try again when it has finished"
                )
            if not announced and sys.stderr.isatty():
                print(f"waiting for {_describe(holder)} on {holder.get('host', '?')} to finish ingesting "
                      f"'{self.corpus}' ...", file=sys.stderr, flush=True)
                announced = True
            time.sleep(POLL)

    def _beat(self) -> None:
        beat = 0
        while not self._stop.wait(HEARTBEAT):
            beat += 1
            try:
                current = self.client.get_collection(lease_collection(self.corpus), embedding_function=None)
                if current.id != self._collection_id:
                    self.lost = True
                    return
                current.modify(metadata={**self.owner, "beat": beat})
            except Exception as exc:
                if "does not exist" in str(exc):
                    self.lost = True
                    return
                log.debug("lease heartbeat failed; retrying", exc_info=True)  # server blip: keep trying
