"""create_app(): the Bolt app, its Web API client and its listeners. Nothing else."""

from __future__ import annotations

import logging

from slack_bolt import App, BoltResponse
from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler

from retrieval.chain import Engine
from retrieval.errors import QAError
from retrieval.settings import Settings

from .listeners import register
from .replies import Replier
from .state import SlackState

log = logging.getLogger(__name__)


def web_client(settings: Settings) -> WebClient:
    if settings.slack_bot_token is None:
        raise QAError("SLACK_BOT_TOKEN is not set; put the bot token (xoxb-...) in the environment or .env")
    client = WebClient(token=settings.slack_bot_token.get_secret_value(), base_url=settings.slack_api_url, timeout=15)
    # 429s wait for Retry-After; dropped connections are retried; other errors surface.
    client.retry_handlers.extend([RateLimitErrorRetryHandler(max_retry_count=3), ConnectionErrorRetryHandler(max_retry_count=2)])
    return client


def create_app(settings: Settings, engine: Engine, state: SlackState | None = None) -> App:
    state = state or SlackState.in_data_dir(settings.data_dir, settings.slack_retention_days)
    signing_secret = settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else None
    app = App(
        client=web_client(settings),
        signing_secret=signing_secret,
        request_verification_enabled=signing_secret is not None,
        process_before_response=False,  # acknowledge first, answer after: Slack's 3-second rule
    )

    @app.middleware
    def answer_each_event_once(body: dict, next) -> BoltResponse | None:
        event_id = body.get("event_id")
        if isinstance(event_id, str) and event_id and not state.claim_event(event_id):
            log.info("event %s already handled; retry ignored", event_id)
            return BoltResponse(status=200, body="")
        return next()

    register(app, Replier(engine, state, settings))
    return app
