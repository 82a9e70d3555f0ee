"""One writer per corpus.

Two ingests of one corpus at once would each decide what to skip from what the other has not
written yet. So a corpus has one writer at a time. Threads of one process queue on a mutex.
With an embedded store the process lock (process_lock.py) already keeps every other process
out; a Chroma server serialises its own storage but lets any number of processes write, so
there the writer holds a lease kept in the server itself: the collection
`naming.lease_collection(corpus)`, whose creation is atomic. The holder renews it with a
heartbeat; a waiting writer takes it over when the holder has stopped (its process is gone,
or it stopped beating for STALE_AFTER).
"""

from __future__ import annotations

import logging
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from ..errors import QAError
from ..settings import Settings
from .naming import lease_collection
from .process_lock import Holder, StoreBusy, alive, describe
from .reachability import reachable

HEARTBEAT = 2.0  # seconds between renewals of a server lease
STALE_AFTER = 20.0  # a lease not renewed for this long (on the waiter's clock) is taken over
POLL = 0.25

log = logging.getLogger(__name__)


_corpus_mutexes: dict[tuple, threading.Lock] = {}
_corpus_mutexes_lock = threading.Lock()


@contextmanager
def corpus_writer(client, settings: Settings, corpus: str, holder: Holder | None = None) -> Iterator[Lease]:
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
        lease = Lease(client, settings, corpus, holder) if settings.server_mode else Lease.local()
        with lease:
            yield lease
    finally:
        mutex.release()


class Lease:
    """The right to write one corpus on a Chroma server (see the module docstring)."""

    def __init__(self, client, settings: Settings | None, corpus: str, holder: Holder | None = None):
        self.client, self.settings, self.corpus = client, settings, corpus
        self.holder = holder or Holder()
        self.owner = {**self.holder.record(), "token": uuid.uuid4().hex}
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
            dead = holder.get("host") == socket.gethostname() and not alive(int(holder.get("pid", 0)))
            if dead or time.monotonic() - seen_at > STALE_AFTER:
                log.warning("taking over corpus '%s' from %s (%s)", self.corpus, describe(holder),
                            "its process is gone" if dead else f"no heartbeat for {STALE_AFTER:g} s")
                with reachable(self.settings):
                    # Another waiter may take it over at the same instant; deleting only what we
                    # looked at keeps that window to the few milliseconds between two calls.
                    if self.client.get_collection(name, embedding_function=None).id == current.id:
                        self.client.delete_collection(name)
                continue
            if time.monotonic() > deadline:
                raise StoreBusy(
                    f"corpus '{self.corpus}' is still being ingested by {describe(holder)} on {holder.get('host', '?')} "
                    f"after waiting {self.settings.lock_wait:g} s (QA_LOCK_WAIT); try again when it has finished"
                )
            if not announced:
                self.holder.waiting(f"waiting for {describe(holder)} on {holder.get('host', '?')} to finish "
                                    f"ingesting '{self.corpus}' ...")
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
