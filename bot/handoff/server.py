"""The bot's side: listen on the socket, check each request, run the ingest for the caller
by its rules, report progress, and stop cleanly with the bot."""

from __future__ import annotations

import logging
import os
import re
import signal
import socket
import stat
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict

from retrieval.errors import QAError, UsageError
from retrieval.ingest.pipeline import IngestReport
from retrieval.settings import CORPUS_NAME_PATTERN, Settings

from .permissions import Caller, CallerRules
from .protocol import (
    ACCEPT_POLL,
    CONNECT_TIMEOUT,
    PROTOCOL,
    STOP_WAIT,
    Channel,
    ClientGone,
    HandoffUnavailable,
    connect,
    peer,
    socket_address,
    socket_path,
)

log = logging.getLogger(__name__)

# run_ingest(paths, corpus, settings, prune, on_document, cwd, follow_symlinks, may_read) -> IngestReport
IngestFunction = Callable[..., IngestReport]


class _Stopping(Exception):
    """The bot is shutting down: the ingest stops after the document in hand."""


class HandoffServer:
    """Listens on DATA_DIR/serve.sock and runs the ingests handed over, one at a time.

    Start it only in the process that holds the embedded index: that is what makes any
    socket file already there a leftover, safe to replace."""

    def __init__(self, settings: Settings, run_ingest: IngestFunction):
        self.settings = settings
        self.path = socket_path(settings)
        self._run_ingest = run_ingest
        self._listener: socket.socket | None = None
        self._inode: int | None = None
        self._stop = threading.Event()
        self._one_at_a_time = threading.Lock()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Bind and listen. Raises QAError (the bot then serves without taking ingests) when
        another process answers on the socket, or when the socket cannot be made."""
        self._replace_leftover()
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            with socket_address(self.path) as address:
                listener.bind(address)
            # With the usual umask (022) a new socket is already closed to other users (connecting
            # needs write permission); 0600 makes it so whatever the umask. The uid check in
            # _handle covers the moment between bind and chmod.
            os.chmod(self.path, 0o600)
            listener.listen(8)
        except OSError as exc:
            listener.close()
            raise QAError(f"cannot listen on {self.path}: {exc.strerror or exc}") from None
        listener.settimeout(ACCEPT_POLL)
        self._inode = os.stat(self.path).st_ino
        self._listener = listener
        self._thread = threading.Thread(target=self._accept_loop, name="handoff", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop listening, let a running ingest end after the document in hand, and remove
        the socket file (if it is still ours). An ingest cut off mid-document would be safe
        (commits are whole documents), but a thread killed at interpreter exit is not a
        way to stop anyone's writes."""
        self._stop.set()
        if self._listener is not None:
            try:
                connect(self.path, ACCEPT_POLL).close()  # wakes the accept loop now, not within ACCEPT_POLL
            except HandoffUnavailable:
                pass
        if self._thread is not None:
            self._thread.join(timeout=ACCEPT_POLL * 4)
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        idle = self._one_at_a_time.acquire(blocking=False)
        if not idle:
            log.info("waiting for the ingest in progress to finish its current document ...")
            idle = self._one_at_a_time.acquire(timeout=STOP_WAIT)
            if not idle:
                log.warning("the ingest in progress did not stop within %g s; the next qa ingest completes it", STOP_WAIT)
        if idle:
            self._one_at_a_time.release()
        try:
            if os.stat(self.path).st_ino == self._inode:
                self.path.unlink()
        except OSError:
            pass

    def _replace_leftover(self) -> None:
        try:
            mode = os.lstat(self.path).st_mode
        except FileNotFoundError:
            return
        if not stat.S_ISSOCK(mode):
            raise QAError(f"{self.path} exists and is not a socket; move it away so that qa serve can take ingests")
        try:
            connect(self.path, CONNECT_TIMEOUT).close()
        except HandoffUnavailable:
            self.path.unlink(missing_ok=True)  # left by a bot that was killed
            return
        raise QAError(f"another process answers on {self.path}; qa ingest cannot be handed to this qa serve")

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                if self._stop.is_set():
                    return
                log.warning("accepting on %s failed", self.path, exc_info=True)
                self._stop.wait(ACCEPT_POLL)
                continue
            if self._stop.is_set():  # close() waking us up
                conn.close()
                return
            threading.Thread(target=self._handle, args=(conn,), name="handoff-ingest", daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        with conn:
            caller = Caller(*peer(conn))
            pid = caller.pid
            if caller.uid != os.getuid():
                log.warning("refused a connection on %s from uid %d (pid %d): not this bot's user", self.path, caller.uid, pid)
                return
            channel = Channel(conn)
            try:
                self._serve_request(channel, caller)
            except ClientGone as exc:
                log.info("the qa ingest (pid %d) that handed an ingest over went away (%s)", pid, exc)
            except OSError as exc:  # e.g. the request never came (REQUEST_TIMEOUT)
                log.info("connection from pid %d on %s dropped: %s", pid, self.path, exc)

    def _serve_request(self, channel: Channel, caller: Caller) -> None:
        pid = caller.pid
        try:
            paths, cwd, corpus, prune, follow_symlinks, settings = self._validate(channel.read_request(), caller)
        except QAError as exc:
            channel.send({"type": "error", "message": str(exc), "usage": isinstance(exc, UsageError)})
            return
        channel.send({"type": "accepted", "pid": os.getpid()})
        if not self._one_at_a_time.acquire(blocking=False):
            channel.send({"type": "progress",
                          "message": f"waiting for the ingest `qa serve` (pid {os.getpid()}) is already running ..."})
            if not self._one_at_a_time.acquire(timeout=self.settings.lock_wait):
                channel.send({"type": "error", "usage": False, "message": (
                    f"`qa serve` (pid {os.getpid()}) is still running another ingest after waiting "
                    f"{self.settings.lock_wait:g} s (QA_LOCK_WAIT); try again when it has finished")})
                return
        try:
            if channel.gone():  # gave up while waiting its turn: do not start what nobody waits for
                raise ClientGone("closed while waiting its turn")
            if self._stop.is_set():
                channel.send({"type": "error", "usage": False, "message": (
                    f"`qa serve` (pid {os.getpid()}) is shutting down; run qa ingest again once it has stopped")})
                return
            log.info("ingesting %s into corpus '%s' for qa ingest (pid %d)", ", ".join(paths), corpus, pid)

            def on_document(source: str, done: int, total: int) -> None:
                # Raising here stops the ingest after this document, as Ctrl-C would.
                channel.send({"type": "progress", "message": f"{done}/{total} passages: {source}"})
                if self._stop.is_set():
                    raise _Stopping

            try:
                rules = CallerRules(caller, [cwd, *(os.path.join(cwd, p) for p in paths)])
                report = self._run_ingest(paths, corpus, settings, prune, on_document, cwd, follow_symlinks, rules)
            except ClientGone:
                raise
            except _Stopping:
                log.info("stopped the ingest for qa ingest (pid %d): shutting down", pid)
                channel.send({"type": "error", "usage": False, "message": (
                    f"`qa serve` (pid {os.getpid()}) was stopped during the ingest; the documents it committed are "
                    "kept: run the same qa ingest again to finish it")})
                return
            except QAError as exc:
                channel.send({"type": "error", "message": str(exc), "usage": isinstance(exc, UsageError)})
                return
            except Exception as exc:  # a bug or an unexpected store error: the bot keeps serving
                log.exception("ingest for qa ingest (pid %d) failed", pid)
                channel.send({"type": "error", "usage": False, "message": (
                    f"`qa serve` (pid {os.getpid()}) failed during the ingest ({type(exc).__name__}: {exc}); "
                    "what it committed is kept; its log has the details")})
                return
        finally:
            self._one_at_a_time.release()
        log.info("ingest for qa ingest (pid %d) done: %d added, %d updated, %d unchanged, %d removed, %d skipped",
                 pid, len(report.added), len(report.updated), len(report.unchanged), len(report.removed),
                 len(report.skipped))
        channel.send({"type": "report", "report": asdict(report)})

    def _validate(self, request: dict, caller: Caller) -> tuple[list[str], str, str, bool, bool, Settings]:
        if request.get("protocol") != PROTOCOL or request.get("command") != "ingest":
            raise UsageError(f"unsupported request (this qa serve speaks protocol {PROTOCOL}, command 'ingest'); "
                             "use the same version of qa for both")
        paths, corpus, prune = request.get("paths"), request.get("corpus"), request.get("prune", False)
        cwd = request.get("cwd")
        if not (isinstance(paths, list) and paths and all(isinstance(p, str) and p for p in paths)):
            raise UsageError("paths must be a non-empty list of paths")
        if not (isinstance(cwd, str) and os.path.isabs(cwd)):
            raise UsageError("cwd must be the absolute path the relative paths are relative to")
        if not (isinstance(corpus, str) and re.match(CORPUS_NAME_PATTERN, corpus)):
            raise UsageError(f"invalid corpus name {corpus!r}")
        follow_symlinks = request.get("follow_symlinks", False)
        if not isinstance(prune, bool) or not isinstance(follow_symlinks, bool):
            raise UsageError("prune and follow_symlinks must be true or false")
        cwd = caller.working_directory(cwd)
        settings = self.settings
        max_mb = request.get("max_file_mb", settings.max_file_mb)
        if isinstance(max_mb, bool) or not isinstance(max_mb, (int, float)) or not max_mb > 0:
            raise UsageError("max_file_mb must be a number above 0")
        if max_mb < settings.max_file_mb:  # the client's QA_MAX_FILE_MB, but never above the bot's own
            settings = settings.model_copy(update={"max_file_mb": max_mb})
        window = request.get("window_chars", settings.window_chars)
        if window != settings.window_chars:
            # The client's QA_WINDOW_CHARS, as a local ingest would use it.
            limits = Settings.model_fields["window_chars"].metadata
            low = next(m.ge for m in limits if hasattr(m, "ge"))
            high = next(m.le for m in limits if hasattr(m, "le"))
            if not (isinstance(window, int) and low <= window <= high):
                raise UsageError(f"window_chars must be an integer from {low} to {high}")
            settings = settings.model_copy(update={"window_chars": window})
        from retrieval.search.embeddings import model_id

        model = request.get("embed_model")
        if model is not None and model != model_id(self.settings.embed_model):
            # Vectors of another model would not be comparable with the questions the bot embeds.
            raise QAError(f"`qa serve` (pid {os.getpid()}) embeds with '{model_id(self.settings.embed_model)}', "
                          f"not '{model}' (QA_EMBED_MODEL); run qa ingest with the bot's QA_EMBED_MODEL")
        return paths, cwd, corpus, prune, follow_symlinks, settings


class _Terminated(BaseException):  # not an Exception: no `except Exception` on the way may swallow it
    pass


@contextmanager
def taking_ingests(settings: Settings) -> Iterator[HandoffServer | None]:
    """For the life of `qa serve`: listen for ingests (start_handoff), and on the way out
    remove the socket. That includes SIGTERM, whose default action ends the process without
    any cleanup (uvicorn shuts down gracefully on it, then raises it again): it is turned
    into an exception here, and raised again once the socket is gone, so the process still
    ends as SIGTERM ends it."""
    server = start_handoff(settings)
    if server is None or threading.current_thread() is not threading.main_thread():
        try:
            yield server
        finally:
            if server is not None:
                server.close()
        return

    def on_sigterm(signum, frame):
        raise _Terminated

    previous = signal.signal(signal.SIGTERM, on_sigterm)
    terminated = False
    try:
        yield server
    except _Terminated:
        terminated = True
    finally:
        server.close()
        signal.signal(signal.SIGTERM, previous)
    if terminated:
        signal.raise_signal(signal.SIGTERM)


def start_handoff(settings: Settings) -> HandoffServer | None:
    """In `qa serve` with an embedded index (which this process holds by now): listen for
    ingests handed over. None with a Chroma server, where `qa ingest` runs by itself, or
    when the socket cannot be made (logged; the bot serves all the same)."""
    if settings.server_mode:
        return None
    from retrieval.ingest.pipeline import ingest
    from retrieval.search.embeddings import SentenceEmbeddings

    # The model behind it is loaded once per process (retrieval/search/embeddings.py caches it), so
    # the ingest shares the one the bot answers with.
    embeddings = SentenceEmbeddings.from_settings(settings)

    def run_ingest(paths, corpus, ingest_settings, prune, on_document, cwd, follow_symlinks, may_read):
        return ingest(paths, corpus, ingest_settings, prune=prune, embeddings=embeddings, progress=False,
                      on_document=on_document, cwd=cwd, follow_symlinks=follow_symlinks, may_read=may_read)

    server = HandoffServer(settings, run_ingest)
    try:
        server.start()
    except QAError as exc:
        log.warning("qa ingest cannot be handed to this bot: %s", exc)
        return None
    log.info("taking ingests handed over by qa ingest on %s", server.path)
    return server
