"""`qa serve`: the Slack app over HTTP (uvicorn, Bolt's ASGI adapter, signed requests) or
Socket Mode. Everything slow (model, corpus indexes) is loaded once, before serving."""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor

from slack_bolt import App, BoltRequest, BoltResponse
from slack_bolt.adapter.asgi import SlackRequestHandler
from slack_bolt.adapter.asgi.http_request import AsgiHttpRequest
from slack_sdk.errors import SlackApiError

from retrieval.engine import Engine
from retrieval.errors import QAError
from retrieval.settings import Settings

from .access import configured_corpora
from .app import build

log = logging.getLogger(__name__)
MAX_BODY_BYTES = 1_000_000  # Slack payloads are a few KB; anything far larger is refused
HEALTH_TIMEOUT = 3.0
ACK_THREADS = 16
# What Bolt's middlewares and listener matchers raise on a signed body that is not shaped like
# a Slack payload ("event": "x", "authorizations": [1], a dict as event_id reaching SQLite...).
MALFORMED_PAYLOAD_ERRORS = (AttributeError, KeyError, IndexError, TypeError, ValueError, sqlite3.InterfaceError,
                            sqlite3.ProgrammingError)


class ThreadedSlackRequestHandler(SlackRequestHandler):
    """Bolt's ASGI adapter runs the (synchronous) app on the event loop; run it in a thread
    of its own pool instead, so a slow moment in one request never delays another's
    acknowledgement. Answers are worked out elsewhere (the app's answering pool): these
    threads only verify, deduplicate, ack and hand over."""

    def __init__(self, app: App):
        super().__init__(app)
        self.acking = ThreadPoolExecutor(max_workers=ACK_THREADS, thread_name_prefix="acking")

    async def dispatch(self, request: AsgiHttpRequest) -> BoltResponse:
        bolt_request = BoltRequest(body=await request.get_raw_body(), query=request.query_string,
                                   headers=request.get_headers())
        return await asyncio.get_running_loop().run_in_executor(self.acking, self.app.dispatch, bolt_request)

    # OAuth mode (bot/slack/install.py): GET /slack/install and /slack/oauth_redirect write to
    # the state database and call oauth.v2.access: on the same pool, not on the event loop.
    async def handle_installation(self, request: AsgiHttpRequest) -> BoltResponse:
        return await self._oauth(self.app.oauth_flow.handle_installation, request)

    async def handle_callback(self, request: AsgiHttpRequest) -> BoltResponse:
        return await self._oauth(self.app.oauth_flow.handle_callback, request)

    async def _oauth(self, handle, request: AsgiHttpRequest) -> BoltResponse:
        bolt_request = BoltRequest(body=await request.get_raw_body(), query=request.query_string,
                                   headers=request.get_headers())
        return await asyncio.get_running_loop().run_in_executor(self.acking, handle, bolt_request)


def refuse_malformed_payloads(error: Exception, logger: logging.Logger, response: BoltResponse | None) -> BoltResponse | None:
    """Bolt's error handler. Bolt answers 500 to whatever a middleware or listener matcher raises,
    and its own ones assume Slack's payload shapes: fuzzing got 500s with signed bodies of another
    shape, which are the sender's fault: 400. Other errors (say, the database is locked) stay 500
    so that Slack retries. `response` is None once the request was acknowledged."""
    logger.exception("Failed to handle a request (error: %s)", error)
    if response is not None and isinstance(error, MALFORMED_PAYLOAD_ERRORS):
        return BoltResponse(status=400, body="malformed request")
    return None


def asgi_app(app: App, engine: Engine):
    """Bolt at /slack/events, plus GET /health (200 when the store answers, else 503)."""
    app.error(refuse_malformed_payloads)
    bolt = ThreadedSlackRequestHandler(app)

    async def application(scope, receive, send):
        if scope["type"] == "websocket":
            # Bolt serves HTTP only: a WebSocket upgrade reached it and made uvicorn answer 500.
            # Closing before accepting makes the server answer 403.
            await receive()  # websocket.connect
            await send({"type": "websocket.close", "code": 1008})
            return
        if scope["type"] != "http":
            await bolt(scope, receive, send)  # lifespan
            return
        if scope["path"] == "/health":
            try:
                await asyncio.wait_for(asyncio.to_thread(lambda: engine.client.heartbeat()), HEALTH_TIMEOUT)
                status, body = 200, {"status": "ok"}
            except Exception as exc:  # the store is down or slow: say so, keep serving
                status, body = 503, {"status": "unavailable", "error": type(exc).__name__}
            await _send(send, status, json.dumps(body).encode(), "application/json")
            return
        body = await _read_body(receive)
        if body is None:
            await _send(send, 413, b"request body too large", "text/plain")
            return
        replayed = False

        async def replay():
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        started = False

        async def tracked_send(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await bolt(scope, replay, tracked_send)
        except Exception:  # a body Bolt cannot parse (malformed JSON, bad form data)
            log.warning("unparseable request to %s refused", scope.get("path"), exc_info=True)
            if not started:
                await _send(send, 400, b"malformed request", "text/plain")

    return application


async def _read_body(receive) -> bytes | None:
    """The whole request body, or None past MAX_BODY_BYTES (however it is sent)."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b""
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return None
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


async def _send(send, status: int, body: bytes, content_type: str) -> None:
    await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", content_type.encode())]})
    await send({"type": "http.response.body", "body": body})


def warm(engine: Engine, settings: Settings) -> None:
    """Load the model and every configured corpus now, not on the first question."""
    engine.embeddings.encode(["warm-up"])
    corpora = {settings.corpus} | configured_corpora(settings)
    for corpus in sorted(corpora):
        try:
            engine.warm_up(corpus)
        except QAError as exc:
            log.warning("corpus '%s' not ready: %s", corpus, exc)


def serve(settings: Settings, holder=None) -> None:
    if settings.slack_app_token is None and settings.slack_signing_secret is None:
        raise QAError("HTTP mode needs SLACK_SIGNING_SECRET to verify requests (or set SLACK_APP_TOKEN for Socket Mode)")
    if settings.oauth_install and settings.slack_app_token is not None:
        raise QAError("installing into workspaces (SLACK_CLIENT_ID, SLACK_CLIENT_SECRET) needs HTTP mode: the install "
                      "pages are served at /slack/install and /slack/oauth_redirect; unset SLACK_APP_TOKEN")
    engine = Engine(settings, holder=holder)
    bot = build(settings, engine)
    warm(engine, settings)
    bot.sweeper.start()  # after warming: a question taken over at start is answered as fast as any
    try:
        if settings.slack_app_token is not None:
            serve_socket_mode(bot.app, settings.slack_app_token.get_secret_value())
            return
        import uvicorn

        host, port = settings.serve_host, settings.serve_port
        log.info("serving Slack over HTTP on %s:%d (/slack/events, /health%s)", host, port,
                 ", /slack/install, /slack/oauth_redirect" if settings.oauth_install else "")
        uvicorn.run(asgi_app(bot.app, engine), host=host, port=port, log_level="info", access_log=False)
    finally:
        bot.sweeper.stop()


def serve_socket_mode(app: App, app_token: str) -> None:
    """Socket Mode until SIGTERM or SIGINT. Bolt's own start() blocks forever and leaves
    SIGTERM to kill the process where it stands; here it ends the way uvicorn's does: the
    connection closed, the sweeper stopped, the answers under way finished."""
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    handler = SocketModeHandler(app, app_token)
    try:
        handler.connect()
    except SlackApiError as exc:  # the token revoked since the start-up checks: Slack's code, never the request
        raise QAError(f"Slack refused the Socket Mode connection ({exc.response.get('error')}); check SLACK_APP_TOKEN") from None
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    log.info("serving Slack over Socket Mode")
    while not stop.wait(1.0):  # (a timed wait: signal handlers run between its rounds)
        pass
    log.info("shutting down: closing the Socket Mode connection")
    handler.close()
