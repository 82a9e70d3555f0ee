"""The App Home tab: the corpora this user may ask (documents, last ingest), how to ask, and
for the access file's admins the feedback summary and the latest unhelpful questions."""

from __future__ import annotations

import logging

from slack_bolt import App, BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from ...blocks import home_blocks
from ...replies import Replier
from ..acks import acknowledge

log = logging.getLogger(__name__)


def register(app: App, replier: Replier) -> None:
    def publish_home(event: dict, client: WebClient, context: BoltContext) -> None:
        if event.get("tab") != "home":
            return
        user = event["user"]
        try:
            client.views_publish(user_id=user, view={"type": "home", "blocks": home_blocks(replier.home(user, context))})
        except SlackApiError as exc:
            log.warning("App Home not published for %s: %s", user, exc.response.get("error"))

    app.event("app_home_opened")(ack=acknowledge, lazy=[publish_home])
