"""build() / create_app(): the Bolt app, its Web API client, its listeners, and the claim
sweeper that answers questions whose replica died (started by `qa serve`). Nothing else.

One workspace (SLACK_BOT_TOKEN) or, with SLACK_CLIENT_ID and SLACK_CLIENT_SECRET, every
workspace that installed the app (bot/slack/install.py): Bolt then looks up each request's
workspace token in the installation store and gives listeners a client carrying it; a
workspace that never installed the app is refused before any listener runs."""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from slack_bolt import App, BoltResponse
from slack_sdk import WebClient

from retrieval.engine import Engine
from retrieval.errors import QAError
from retrieval.settings import Settings

from .access import AccessControl
from .install import oauth_settings
from .listeners import answer_again, register
from .questions import claim_key, question_from_body
from .replies import Replier
from .state import SlackState
from .sweeper import Sweeper
from .workspaces import InstalledWorkspaces, OneWorkspace, Workspaces, api_client

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
    """The app's client: SLACK_BOT_TOKEN's, or in OAuth mode one without a token (Bolt copies
    it for each request and sets the workspace's token on the copy)."""
    if settings.oauth_install:
        return api_client(settings, None)
    if settings.slack_bot_token is None:
        raise QAError("SLACK_BOT_TOKEN is not set; put the bot token (xoxb-...) in the environment or .env "
                      "(or set SLACK_CLIENT_ID and SLACK_CLIENT_SECRET to install into workspaces through OAuth)")
    return api_client(settings, settings.slack_bot_token.get_secret_value())


@dataclass
class Bot:
    app: App
    replier: Replier
    answering: AnsweringPool
    sweeper: Sweeper  # not started: `qa serve` starts it (and stops it on the way out)
    workspaces: Workspaces


def build(settings: Settings, engine: Engine, state: SlackState | None = None,
          answering: AnsweringPool | None = None) -> Bot:
    state = state or SlackState.from_settings(settings)
    state.purge_expired()  # an idle bot saves no answers, so also at start (then hourly as it answers)
    signing_secret = settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else None
    client = web_client(settings)
    answering = answering or AnsweringPool()
    oauth = oauth_settings(settings, state) if settings.oauth_install else None
    app = App(
        client=client,
        oauth_settings=oauth,
        signing_secret=signing_secret,
        request_verification_enabled=signing_secret is not None,
        # Each listener acks on the request's own thread and hands the answer to a lazy
        # function on the answering pool: the ack never waits for a free answering thread.
        process_before_response=True,
        listener_executor=answering,
    )

    @app.middleware
    def answer_each_event_once(body: dict, context, next) -> BoltResponse | None:
        key = claim_key(body)
        # The question goes into the claim before Slack has its ack: from then on, a replica
        # dying does not lose it.
        question = question_from_body(body, context) if key else None
        if key and not state.claim_event(key, question.to_dict() if question else None):
            log.info("event %s already handled; retry ignored", key)
            return BoltResponse(status=200, body="")
        return next()  # the listener marks the claim done once its answer is posted (listeners/answering.py)

    workspaces = (InstalledWorkspaces(settings, oauth.installation_store) if oauth is not None
                  else OneWorkspace(client))
    replier = Replier(engine, state, settings, AccessControl(settings, workspaces))
    register(app, replier)
    sweeper = Sweeper(state, lambda claim: answering.submit(answer_again, replier, workspaces, claim))
    return Bot(app, replier, answering, sweeper, workspaces)


def create_app(settings: Settings, engine: Engine, state: SlackState | None = None,
               answering: AnsweringPool | None = None) -> App:
    """The Bolt app alone, without a sweeper running (tests that need none, and benchmarks)."""
    return build(settings, engine, state, answering).app
