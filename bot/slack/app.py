"""create_app(): the Bolt app, its Web API client and its listeners. Nothing else."""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor

from slack_bolt import App, BoltResponse
from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler

from retrieval.engine import Engine
from retrieval.errors import QAError
from retrieval.settings import Settings

from .access import AccessControl, AccessFile
from .listeners import register
from .replies import Replier
from .state import SlackState

ANSWERING_THREADS = 8
log = logging.getLogger(__name__)


class AnsweringPool(ThreadPoolExecutor):
    """The threads that work out answers (Bolt's lazy listeners run here). Requests are
    acknowledged on other threads, so a burst of slow answers queues here and never delays
    an ack. It counts the work in flight: `wait_idle` is the "everything handled" signal
    that tests wait on."""

    def __init__(self, workers: int = ANSWERING_THREADS):
        super().__init__(max_workers=workers, thread_name_prefix="answering")
        self._idle = threading.Condition()
        self._pending = 0

    def submit(self, fn, /, *args, **kwargs):
        with self._idle:
            self._pending += 1

        def run():
            try:
                return fn(*args, **kwargs)
            finally:
                with self._idle:
                    self._pending -= 1
                    self._idle.notify_all()

        return super().submit(run)

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """True once no submitted work is queued or running (False after `timeout` s)."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)


def web_client(settings: Settings) -> WebClient:
    if settings.slack_bot_token is None:
        raise QAError("SLACK_BOT_TOKEN is not set; put the bot token (xoxb-...) in the environment or .env")
    client = WebClient(token=settings.slack_bot_token.get_secret_value(), base_url=settings.slack_api_url, timeout=15)
    # 429s wait for Retry-After; dropped connections are retried; other errors surface.
    client.retry_handlers.extend([RateLimitErrorRetryHandler(max_retry_count=3), ConnectionErrorRetryHandler(max_retry_count=2)])
    return client


def create_app(settings: Settings, engine: Engine, state: SlackState | None = None,
               answering: AnsweringPool | None = None) -> App:
    state = state or SlackState.from_settings(settings)
    state.purge_expired()  # an idle bot saves no answers, so also at start (then hourly as it answers)
    signing_secret = settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else None
    client = web_client(settings)
    app = App(
        client=client,
        signing_secret=signing_secret,
        request_verification_enabled=signing_secret is not None,
        # Each listener acks on the request's own thread and hands the answer to a lazy
        # function on the answering pool: the ack never waits for a free answering thread.
        process_before_response=True,
        listener_executor=answering or AnsweringPool(),
    )

    @app.middleware
    def answer_each_event_once(body: dict, next) -> BoltResponse | None:
        event_id = body.get("event_id")
        if isinstance(event_id, str) and event_id and not state.claim_event(event_id):
            log.info("event %s already handled; retry ignored", event_id)
            return BoltResponse(status=200, body="")
        return next()  # the listener marks the claim done once its answer is posted (Replier.answered)

    register(app, Replier(engine, state, settings, AccessControl(AccessFile(settings), client)))
    return app
