"""Who may use an embedded index, and how the others wait.

Embedded Chroma (a PersistentClient under the data directory) is a single-process store.
Each process keeps its own in-memory copy of the vector index and writes it back to the same
files; even a process that only reads rewrites them when it finds the index behind Chroma's
log. Two processes on one folder see stale vectors at best and wreck the index at worst
(docs/robustness.md has the measurements). So one process at a time opens an embedded
index: it holds an exclusive OS lock on the data directory's lock file for as long as its
client is open. The kernel drops the lock when the process ends, however it ends (SIGKILL
included), so a lock is never left behind. A `qa ingest` that finds `qa serve` holding the
index hands its work to the bot instead (bot/handoff.py): that is why StoreBusy carries the
holder's record.

How a process is named to the others, and what it does while it waits, is its caller's to
say (a Holder): the store knows nothing of the command line.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..errors import QAError
from ..settings import Settings
from .naming import embedded_store, lock_file, owner_file


@dataclass(frozen=True)
class Holder:
    """This process as others see it when it holds the index or a corpus: `label` names it in
    their messages ("qa serve"); `long_running` tells them that waiting for it to finish is
    pointless; `on_wait` is called with a one-line message when this process has to wait."""

    label: str = "python"
    long_running: bool = False
    on_wait: Callable[[str], None] | None = None

    def record(self) -> dict:
        return {"pid": os.getpid(), "host": socket.gethostname(), "command": self.label,
                "long_running": self.long_running, "since": time.time()}

    def waiting(self, message: str) -> None:
        if self.on_wait is not None:
            self.on_wait(message)


class StoreBusy(QAError):
    """Another qa process holds the index (embedded) or the corpus (server) for too long.

    `owner` is the holder's record (pid, host, command) when it is known: `qa ingest` hands
    its work to a holder that is `qa serve` (bot/handoff.py)."""

    def __init__(self, message: str, owner: dict | None = None):
        super().__init__(message)
        self.owner = owner


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        return True
    return True


def describe(owner: dict | None) -> str:
    return f"`{owner['command']}` (pid {owner['pid']})" if owner else "another qa process"


# -- embedded: one process per data directory ----------------------------------------------


@dataclass
class _Hold:
    lock: object  # filelock.FileLock
    users: int = 0


_holds: dict[Path, _Hold] = {}
_holds_lock = threading.Lock()


def hold_embedded_store(settings: Settings, holder: Holder) -> Path:
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
            lock = FileLock(str(lock_file(folder)), thread_local=False)
            _acquire_embedded(lock, folder, settings, holder)
            try:
                owner_file(folder).write_text(json.dumps(holder.record()))
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


def _acquire_embedded(lock, folder: Path, settings: Settings, holder: Holder) -> None:
    from filelock import Timeout

    try:
        lock.acquire(blocking=False)
        return
    except Timeout:
        pass
    owner = _read_owner(folder)
    if owner is None or owner.get("long_running") or settings.lock_wait == 0:
        raise StoreBusy(_busy_message(folder, owner, waited=None), owner)
    holder.waiting(f"waiting for {describe(owner)} to finish with {folder} ...")
    try:
        lock.acquire(timeout=settings.lock_wait)
    except Timeout:
        owner = _read_owner(folder)
        raise StoreBusy(_busy_message(folder, owner, waited=settings.lock_wait), owner) from None


def _read_owner(folder: Path) -> dict | None:
    try:
        owner = json.loads(owner_file(folder).read_text())
        if owner.get("host") == socket.gethostname() and not alive(int(owner["pid"])):
            return None  # written by a process that is gone: whoever holds the lock now has not said
        return owner
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _busy_message(folder: Path, owner: dict | None, waited: float | None) -> str:
    server = (f"or share the index through a Chroma server (chroma run --path {embedded_store(folder)} --port 8000, "
              "then set CHROMA_HOST=localhost and CHROMA_PORT=8000)")
    if waited is None and owner and owner.get("long_running"):
        return (f"the index in {folder} is in use by {describe(owner)} and embedded Chroma allows one process "
                f"at a time: stop it first, {server}")
    after = f" after waiting {waited:g} s (QA_LOCK_WAIT)" if waited else ""
    return (f"the index in {folder} is still in use by {describe(owner)}{after}; embedded Chroma allows one "
            f"process at a time: try again when it has finished, {server}")
