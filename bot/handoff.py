"""`qa ingest` while `qa serve` runs on the same embedded index: the bot does the ingest.

An embedded index allows one process at a time (retrieval/locking.py), and a running bot
holds it for as long as it runs. So `qa serve` listens on a Unix socket in the data
directory, DATA_DIR/serve.sock, and a `qa ingest` that finds the index held by `qa serve`
sends it the ingest instead of refusing. The bot runs retrieval.ingest.ingest in its own
process, on its own Chroma client and model, while it keeps answering; every document it
commits is answerable at once (the Engine keys its lexical index on the corpus revision).

Who may connect: the socket file is 0600 and every connection's peer uid (SO_PEERCRED) must
be the bot's own, so only the user running the bot can hand it work. Nothing leaves the
machine: Unix sockets only.

What the bot reads for it: what a local `qa ingest` would (links inside a folder skipped, or
followed only inside it; files over QA_MAX_FILE_MB skipped, the smaller of the two sides'
limits), and of that only what the caller itself could: every file and folder must lie
inside the caller's working directory (read from /proc, not taken from the request) or a
path it gave, and the caller's uid and groups must be allowed to read it by its mode bits
(`CallerRules`). The bot may run as another user than whoever asks, so its own access
proves nothing.

The protocol is JSON lines. The client sends one request:

    {"protocol": 1, "command": "ingest", "paths": [paths as given], "cwd": "/where/qa/ingest/ran",
     "corpus": "default", "prune": false, "follow_symlinks": false, "max_file_mb": 50,
     "window_chars": 600, "embed_model": "sentence-transformers/..."}

Relative paths are read from `cwd` but keep their names, so a document has the same source
whether it was ingested by the bot or by a local `qa ingest` from the same folder.

and the bot answers with {"type": "accepted", "pid": N}, then any number of
{"type": "progress", "message": "..."}, then exactly one of
{"type": "report", "report": {the fields of `qa ingest --json`}} or
{"type": "error", "message": "...", "usage": bool}.

A socket file is only a way to reach the lock holder, never a claim on the index: a bot
killed with SIGKILL leaves its socket behind, nothing answers on it (connection refused),
and the next `qa serve`, which holds the lock before it listens, replaces it.
"""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import socket
import stat
import struct
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from retrieval.errors import QAError, UsageError
from retrieval.ingest import IngestReport
from retrieval.settings import CORPUS_NAME_PATTERN, Settings

SOCKET_NAME = "serve.sock"
PROTOCOL = 1
MAX_REQUEST_BYTES = 1_000_000  # a request is a list of paths: far below this
REQUEST_TIMEOUT = 10.0  # a client that connects and says nothing does not keep a thread
SEND_TIMEOUT = 30.0  # a client that stops reading is treated as gone
CONNECT_TIMEOUT = 5.0
ACCEPT_POLL = 0.5  # how often the accept loop looks whether it was closed
STOP_WAIT = 60.0  # on shutdown, how long to wait for a running ingest to finish its document
MAX_ADDRESS_BYTES = 107  # sun_path holds 108 bytes with its terminating NUL (Linux)

log = logging.getLogger(__name__)

# run_ingest(paths, corpus, settings, prune, on_document, cwd, follow_symlinks, may_read) -> IngestReport
IngestFunction = Callable[..., IngestReport]


def socket_path(settings: Settings) -> Path:
    return settings.data_dir.resolve() / SOCKET_NAME


class HandoffUnavailable(QAError):
    """Nothing answers on the socket: no bot listens there (or it is gone)."""


class ClientGone(Exception):
    """The `qa ingest` that handed the work over went away (Ctrl-C, killed)."""


class _Stopping(Exception):
    """The bot is shutting down: the ingest stops after the document in hand."""


@contextmanager
def _address(path: Path) -> Iterator[str]:
    """The address to bind or connect to for `path`. A Unix socket address holds at most 107
    bytes; a deeper data directory is reached through a descriptor of its folder instead
    (/proc/self/fd/N/serve.sock), which names the same file."""
    if len(os.fsencode(str(path))) <= MAX_ADDRESS_BYTES:
        yield str(path)
        return
    folder = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        yield f"/proc/self/fd/{folder}/{path.name}"
    finally:
        os.close(folder)


def _connect(path: Path, timeout: float) -> socket.socket:
    """A connection to whoever listens on `path`; HandoffUnavailable when nobody does."""
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.settimeout(timeout)
    try:
        with _address(path) as address:
            conn.connect(address)
    except (FileNotFoundError, ConnectionRefusedError):
        conn.close()
        # ConnectionRefused: a socket file whose bot is gone (SIGKILL leaves it behind).
        raise HandoffUnavailable(f"nothing answers on {path}") from None
    except OSError as exc:
        conn.close()
        raise HandoffUnavailable(f"cannot connect to {path}: {exc.strerror or exc}") from None
    return conn


def _peer(conn: socket.socket) -> tuple[int, int, int]:
    """(pid, uid, gid) of the process at the other end (Linux SO_PEERCRED). Elsewhere the
    socket's 0600 mode alone keeps other users out: pid 0, and our own uid."""
    if not hasattr(socket, "SO_PEERCRED"):
        return 0, os.getuid(), os.getgid()
    return struct.unpack("3i", conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i")))


# -- what the bot reads for a caller ----------------------------------------------------------


@dataclass(frozen=True)
class Caller:
    """The process at the other end of a connection, as the kernel reports it."""

    pid: int  # 0 where SO_PEERCRED is missing
    uid: int
    gid: int

    def groups(self) -> frozenset[int]:
        """Its groups: from /proc (what the process holds now), else the user's database entry."""
        try:
            with open(f"/proc/{self.pid}/status", encoding="ascii") as status:
                for line in status:
                    if line.startswith("Groups:"):
                        return frozenset({self.gid, *map(int, line.split()[1:])})
        except (OSError, ValueError):
            pass
        import pwd

        try:
            return frozenset({self.gid, *os.getgrouplist(pwd.getpwuid(self.uid).pw_name, self.gid)})
        except (KeyError, OSError):
            return frozenset({self.gid})

    def working_directory(self, claimed: str) -> str:
        """Its real working directory. The request's `cwd` is only a claim: it must be the one
        /proc shows for the process, where there is a /proc to ask."""
        if self.pid == 0:  # no SO_PEERCRED: the socket's 0600 mode is all there is to go on
            return os.path.realpath(claimed)
        try:
            actual = os.readlink(f"/proc/{self.pid}/cwd")
        except OSError as exc:
            raise UsageError(f"cannot see the working directory of the qa ingest that asked (pid {self.pid}): "
                             f"{exc.strerror or exc}") from None
        if os.path.realpath(claimed) != actual:
            raise UsageError(f"cwd {claimed!r} is not the working directory of the process that asked (pid {self.pid})")
        return actual


class CallerRules:
    """`may_read` for an ingest handed over by `caller` (see ReadRules): a file or folder is
    read only when its real path lies inside one of `roots` (the caller's working directory
    and the paths it gave) and the caller could read it.

    "Could read" follows the kernel's rule for mode bits: the owner's bits when the caller
    owns it, else the group's when it is in the group, else the others'; read permission on
    the file (and on a folder, search too), and search permission on every folder above it,
    along the path as named and the real one. Root may read anything. POSIX ACLs are not
    evaluated: a file that has one is refused unless the caller owns it."""

    def __init__(self, caller: Caller, roots: list[str]):
        self.caller = caller
        self.groups = caller.groups()
        self.roots = [os.path.realpath(r) for r in roots]
        self._searchable: dict[str, bool] = {}  # folder -> whether the caller may pass through it

    def __call__(self, path: Path, folder: bool) -> str | None:
        real = os.path.realpath(path)
        if not any(os.path.commonpath([real, root]) == root for root in self.roots):
            return (f"outside the working directory of the qa ingest that asked and the paths it gave "
                    f"({_printable(real)}): not read")
        if self.caller.uid == 0:
            return None
        try:
            info = os.stat(real)
        except OSError as exc:
            return f"cannot read: {exc.strerror or exc}"
        want = stat.S_IROTH | (stat.S_IXOTH if folder else 0)
        above = {*_parents(os.path.abspath(path)), *_parents(real)}
        if not (self._permits(info, want) and self._acl_free(real, info)) or not all(map(self._search, above)):
            return f"uid {self.caller.uid}, which asked for this ingest, may not read it: not read"
        return None

    def _permits(self, info: os.stat_result, want: int) -> bool:
        if info.st_uid == self.caller.uid:
            bits = info.st_mode >> 6
        elif info.st_gid in self.groups:
            bits = info.st_mode >> 3
        else:
            bits = info.st_mode
        return bits & want == want

    def _acl_free(self, path: str, info: os.stat_result) -> bool:
        if info.st_uid == self.caller.uid or not hasattr(os, "listxattr"):
            return True
        try:
            return "system.posix_acl_access" not in os.listxattr(path)
        except OSError:  # a file system without extended attributes has no ACLs either
            return True

    def _search(self, folder: str) -> bool:
        if folder not in self._searchable:
            try:
                info = os.stat(folder)
            except OSError:
                self._searchable[folder] = False
            else:
                self._searchable[folder] = self._permits(info, stat.S_IXOTH) and self._acl_free(folder, info)
        return self._searchable[folder]


def _parents(path: str) -> list[str]:
    return [str(p) for p in Path(path).parents]


def _printable(path: str) -> str:
    return path.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


# -- the bot's side --------------------------------------------------------------------------


class _Channel:
    """One connection, seen as JSON lines."""

    def __init__(self, conn: socket.socket):
        self.conn = conn

    def read_request(self) -> dict:
        self.conn.settimeout(REQUEST_TIMEOUT)
        data = b""
        while b"\n" not in data:
            chunk = self.conn.recv(65536)
            if not chunk:
                raise ClientGone("closed before sending a whole request")
            data += chunk
            if len(data) > MAX_REQUEST_BYTES:
                raise UsageError(f"request larger than {MAX_REQUEST_BYTES} bytes")
        try:
            request = json.loads(data.split(b"\n", 1)[0])
        except ValueError:
            raise UsageError("the request is not a JSON object") from None
        if not isinstance(request, dict):
            raise UsageError("the request is not a JSON object")
        return request

    def send(self, message: dict) -> None:
        self.conn.settimeout(SEND_TIMEOUT)
        try:
            self.conn.sendall((json.dumps(message) + "\n").encode())
        except OSError as exc:  # EPIPE, reset, or a client that stopped reading
            raise ClientGone(str(exc)) from None

    def gone(self) -> bool:
        """Whether the client closed its end (it sends nothing after its request)."""
        self.conn.setblocking(False)  # with a timeout set, Python would wait for data first
        try:
            return self.conn.recv(1, socket.MSG_PEEK) == b""
        except BlockingIOError:
            return False
        except OSError:
            return True
        finally:
            self.conn.settimeout(SEND_TIMEOUT)


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
            with _address(self.path) as address:
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
                _connect(self.path, ACCEPT_POLL).close()  # wakes the accept loop now, not within ACCEPT_POLL
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
            _connect(self.path, CONNECT_TIMEOUT).close()
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
            caller = Caller(*_peer(conn))
            pid = caller.pid
            if caller.uid != os.getuid():
                log.warning("refused a connection on %s from uid %d (pid %d): not this bot's user", self.path, caller.uid, pid)
                return
            channel = _Channel(conn)
            try:
                self._serve_request(channel, caller)
            except ClientGone as exc:
                log.info("the qa ingest (pid %d) that handed an ingest over went away (%s)", pid, exc)
            except OSError as exc:  # e.g. the request never came (REQUEST_TIMEOUT)
                log.info("connection from pid %d on %s dropped: %s", pid, self.path, exc)

    def _serve_request(self, channel: _Channel, caller: Caller) -> None:
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
        from retrieval.embeddings import model_id

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
    from retrieval.embeddings import SentenceEmbeddings
    from retrieval.ingest import ingest

    # The model behind it is loaded once per process (retrieval/embeddings.py caches it), so
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


# -- the side of qa ingest -------------------------------------------------------------------


def hand_over_ingest(settings: Settings, paths: list[str], corpus: str, prune: bool,
                     on_progress: Callable[[str], None] | None = None,
                     follow_symlinks: bool = False) -> tuple[IngestReport, int]:
    """Have the `qa serve` listening on the data directory's socket ingest `paths` (relative to
    this process's working directory) into `corpus`. Returns its report and its pid. Raises HandoffUnavailable when no bot
    answers (nothing was sent), UsageError / QAError with the bot's message otherwise."""
    from retrieval.embeddings import model_id

    path = socket_path(settings)
    conn = _connect(path, CONNECT_TIMEOUT)
    request = {"protocol": PROTOCOL, "command": "ingest", "paths": paths, "cwd": os.getcwd(), "corpus": corpus, "prune": prune,
               "follow_symlinks": follow_symlinks, "max_file_mb": settings.max_file_mb,
               "window_chars": settings.window_chars, "embed_model": model_id(settings.embed_model)}
    pid = None
    with conn:
        try:
            conn.sendall((json.dumps(request) + "\n").encode())
        except OSError as exc:
            raise HandoffUnavailable(f"{path} did not take the request: {exc.strerror or exc}") from None
        conn.settimeout(None)  # an ingest takes as long as it takes; a bot that dies closes the socket
        with conn.makefile("r", encoding="utf-8") as lines:  # closing both is what tells the bot we left
            for line in lines:
                try:
                    message = json.loads(line)
                    kind = message.get("type")
                except (ValueError, AttributeError):
                    raise QAError(f"{path} answered something other than qa serve would: {line[:80]!r}") from None
                if kind == "accepted":
                    pid = message["pid"]
                elif kind == "progress" and on_progress is not None:
                    on_progress(message["message"])
                elif kind == "report":
                    return IngestReport(**message["report"]), pid
                elif kind == "error":
                    raise (UsageError if message.get("usage") else QAError)(message["message"])
    who = f"`qa serve` (pid {pid})" if pid else f"the process on {path}"
    raise QAError(f"{who} stopped before it finished the ingest (killed?); what it committed is kept: "
                  "run the same qa ingest again")
