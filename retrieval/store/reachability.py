"""Whether the Chroma server answers: its failures, whatever chromadb raises for them, as one
actionable error. Used by everything in the store that talks to the server."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from ..errors import QAError, StoreUnavailable
from ..settings import Settings


@contextmanager
def reachable(settings: Settings) -> Iterator[None]:
    """Turn "the Chroma server is down (or too slow)" into one actionable error."""
    try:
        yield
    except (QAError, KeyboardInterrupt):
        raise
    except Exception as exc:  # chromadb raises assorted httpx/ValueError types
        if settings.server_mode and _timed_out(exc):
            raise StoreUnavailable(
                f"the Chroma server at {settings.chroma_host}:{settings.chroma_port} did not answer within "
                f"{settings.chroma_timeout:g} s; check that it is not overloaded, or raise QA_CHROMA_TIMEOUT"
            ) from exc
        if settings.server_mode and _looks_like_connection_error(exc):
            raise StoreUnavailable(
                f"cannot reach the Chroma server at {settings.chroma_host}:{settings.chroma_port}; "
                "start it (chroma run --path DIR --port PORT) or unset CHROMA_HOST to use the "
                "embedded store"
            ) from exc
        status = _http_status(exc) if settings.server_mode else None
        if status is not None:
            raise StoreUnavailable(
                f"{settings.chroma_host}:{settings.chroma_port} did not answer as a Chroma server "
                f"(HTTP {status}); check CHROMA_HOST and CHROMA_PORT"
            ) from exc
        raise


def _causes(exc: BaseException | None) -> Iterator[BaseException]:
    while exc is not None:
        yield exc
        exc = exc.__cause__ or exc.__context__


def _http_status(exc: BaseException) -> int | None:
    """The HTTP status behind an error from something that is not (or not quite) Chroma."""
    import httpx

    return next((e.response.status_code for e in _causes(exc) if isinstance(e, httpx.HTTPStatusError)), None)


def _timed_out(exc: BaseException) -> bool:
    """Connected, then waited too long (a connect timeout is "cannot reach", below)."""
    import httpx

    return any(isinstance(e, httpx.TimeoutException) and not isinstance(e, httpx.ConnectTimeout) for e in _causes(exc))


def _looks_like_connection_error(exc: BaseException) -> bool:
    import httpx

    return any(
        isinstance(e, (httpx.TransportError, ConnectionError, TimeoutError)) or "connect" in str(e).lower()
        for e in _causes(exc)
    )
