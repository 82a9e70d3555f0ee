"""The hand-over protocol: JSON lines on a Unix socket in the data directory.

The client sends one request:

    {"protocol": 1, "command": "ingest", "paths": [paths as given], "cwd": "/where/qa/ingest/ran",
     "corpus": "default", "prune": false, "follow_symlinks": false, "max_file_mb": 50,
     "window_chars": 600, "embed_model": "sentence-transformers/..."}

Relative paths are read from `cwd` but keep their names, so a document has the same source
whether it was ingested by the bot or by a local `qa ingest` from the same folder.

and the bot answers with {"type": "accepted", "pid": N}, then any number of
{"type": "progress", "message": "..."}, then exactly one of
{"type": "report", "report": {the fields of `qa ingest --json`}} or
{"type": "error", "message": "...", "usage": bool}.
"""

from __future__ import annotations

import json
import os
import socket
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from retrieval.errors import QAError, UsageError
from retrieval.settings import Settings
from retrieval.store.naming import serve_socket

PROTOCOL = 1
MAX_REQUEST_BYTES = 1_000_000  # a request is a list of paths: far below this
REQUEST_TIMEOUT = 10.0  # a client that connects and says nothing does not keep a thread
SEND_TIMEOUT = 30.0  # a client that stops reading is treated as gone
CONNECT_TIMEOUT = 5.0
ACCEPT_POLL = 0.5  # how often the accept loop looks whether it was closed
STOP_WAIT = 60.0  # on shutdown, how long to wait for a running ingest to finish its document
MAX_ADDRESS_BYTES = 107  # sun_path holds 108 bytes with its terminating NUL (Linux)


def socket_path(settings: Settings) -> Path:
    return serve_socket(settings.data_dir.resolve())


class HandoffUnavailable(QAError):
    """Nothing answers on the socket: no bot listens there (or it is gone)."""


class ClientGone(Exception):
    """The `qa ingest` that handed the work over went away (Ctrl-C, killed)."""


@contextmanager
def socket_address(path: Path) -> Iterator[str]:
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


def connect(path: Path, timeout: float) -> socket.socket:
    """A connection to whoever listens on `path`; HandoffUnavailable when nobody does."""
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.settimeout(timeout)
    try:
        with socket_address(path) as address:
            conn.connect(address)
    except (FileNotFoundError, ConnectionRefusedError):
        conn.close()
        # ConnectionRefused: a socket file whose bot is gone (SIGKILL leaves it behind).
        raise HandoffUnavailable(f"nothing answers on {path}") from None
    except OSError as exc:
        conn.close()
        raise HandoffUnavailable(f"cannot connect to {path}: {exc.strerror or exc}") from None
    return conn


def peer(conn: socket.socket) -> tuple[int, int, int]:
    """(pid, uid, gid) of the process at the other end (Linux SO_PEERCRED). Elsewhere the
    socket's 0600 mode alone keeps other users out: pid 0, and our own uid."""
    if not hasattr(socket, "SO_PEERCRED"):
        return 0, os.getuid(), os.getgid()
    return struct.unpack("3i", conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i")))


class Channel:
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
