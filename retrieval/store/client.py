"""A Chroma client: HTTP to a server (`chroma run`), or the embedded store under the data
directory, which the process that opens it then holds (process_lock.py)."""

from __future__ import annotations

from ..errors import QAError
from ..settings import Settings
from .naming import embedded_store
from .process_lock import Holder, hold_embedded_store, release_embedded_store
from .reachability import reachable


def open_client(settings: Settings, holder: Holder | None = None):
    """A Chroma client: HTTP to the server in server mode, else the embedded store, which this
    process then holds until `close_client` or its exit. Raises StoreBusy when another
    process holds it; `holder` is how this process is named to the others (process_lock.py)."""
    import chromadb

    chroma_settings = chromadb.Settings(anonymized_telemetry=False, allow_reset=False)
    if settings.server_mode:
        with reachable(settings):
            _heartbeat(settings)  # bounded: the client's constructor makes an unbounded request
            client = chromadb.HttpClient(
                host=settings.chroma_host, port=settings.chroma_port, settings=chroma_settings
            )
            _set_timeouts(client, settings)
            client.heartbeat()
        return client
    try:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise QAError(f"cannot use data directory {settings.data_dir}: {exc.strerror or exc}; set QA_DATA_DIR or --data-dir") from exc
    held = hold_embedded_store(settings, holder or Holder())
    try:
        client = chromadb.PersistentClient(path=str(embedded_store(settings.data_dir)), settings=chroma_settings)
    except BaseException:
        release_embedded_store(held)
        raise
    client._qa_store_hold = held  # given back by close_client
    return client


def close_client(client) -> None:
    """Close a client from `open_client`; an embedded store is let go once every client this
    process opened on it is closed (Chroma shares one in-memory store between them)."""
    held = getattr(client, "_qa_store_hold", None)
    try:
        client.close()
    finally:
        if held is not None:
            client._qa_store_hold = None
            release_embedded_store(held)


def _timeout(settings: Settings):
    import httpx

    return httpx.Timeout(settings.chroma_timeout, connect=min(5.0, settings.chroma_timeout))


def _heartbeat(settings: Settings) -> None:
    """Ask the server for its heartbeat within our timeout: a server that is down, stalled or
    not Chroma fails here, before chromadb's client sends its first (untimed) request."""
    import httpx

    url = f"http://{settings.chroma_host}:{settings.chroma_port}/api/v2/heartbeat"
    httpx.get(url, timeout=_timeout(settings)).raise_for_status()


def _set_timeouts(client, settings: Settings) -> None:
    """chromadb's HTTP client never times out (httpx timeout=None), so a server that accepts
    a connection and then stalls would hang a question for ever. Its session is a plain
    httpx.Client, shared by every client of that server in this process: give it our timeout."""
    import httpx

    session = getattr(getattr(client, "_server", None), "_session", None)
    if isinstance(session, httpx.Client):
        session.timeout = _timeout(settings)
