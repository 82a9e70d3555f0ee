"""`qa ingest` while `qa serve` runs on the same embedded index: the bot does the ingest.

An embedded index allows one process at a time (retrieval/store/process_lock.py), and a running bot
holds it for as long as it runs. So `qa serve` listens on a Unix socket in the data
directory, DATA_DIR/serve.sock, and a `qa ingest` that finds the index held by `qa serve`
sends it the ingest instead of refusing. The bot runs retrieval.ingest.pipeline.ingest in its own
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

protocol.py is the JSON-lines protocol and the socket; permissions.py what the bot may read
for a caller; server.py the bot's side; client.py the side of `qa ingest`.

A socket file is only a way to reach the lock holder, never a claim on the index: a bot
killed with SIGKILL leaves its socket behind, nothing answers on it (connection refused),
and the next `qa serve`, which holds the lock before it listens, replaces it.
"""

from .client import hand_over_ingest
from .permissions import Caller, CallerRules
from .protocol import HandoffUnavailable, socket_path
from .server import HandoffServer, start_handoff, taking_ingests

__all__ = ["Caller", "CallerRules", "HandoffServer", "HandoffUnavailable", "hand_over_ingest", "socket_path",
           "start_handoff", "taking_ingests"]
