"""The side of `qa ingest`: hand the ingest to the `qa serve` that holds the index, relay its
progress, and return its report."""

from __future__ import annotations

import json
import os
from collections.abc import Callable

from retrieval.errors import QAError, UsageError
from retrieval.ingest.pipeline import IngestReport
from retrieval.settings import Settings

from .protocol import CONNECT_TIMEOUT, PROTOCOL, HandoffUnavailable, connect, socket_path


def hand_over_ingest(settings: Settings, paths: list[str], corpus: str, prune: bool,
                     on_progress: Callable[[str], None] | None = None,
                     follow_symlinks: bool = False) -> tuple[IngestReport, int]:
    """Have the `qa serve` listening on the data directory's socket ingest `paths` (relative to
    this process's working directory) into `corpus`. Returns its report and its pid. Raises HandoffUnavailable when no bot
    answers (nothing was sent), UsageError / QAError with the bot's message otherwise."""
    from retrieval.search.embeddings import model_id

    path = socket_path(settings)
    conn = connect(path, CONNECT_TIMEOUT)
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
