"""Helpful / Not helpful clicks, stored with the question, answer and citations."""

from __future__ import annotations

from slack_bolt import Ack, App, Respond

from ...blocks import HELPFUL, NOT_HELPFUL
from ...replies import Replier


def register(app: App, replier: Replier) -> None:
    @app.action(HELPFUL)
    def on_helpful(ack: Ack, body: dict, action: dict, respond: Respond) -> None:
        ack()
        record(replier, body, action, True, respond)

    @app.action(NOT_HELPFUL)
    def on_not_helpful(ack: Ack, body: dict, action: dict, respond: Respond) -> None:
        ack()
        record(replier, body, action, False, respond)


def record(replier: Replier, body: dict, action: dict, helpful: bool, respond: Respond) -> None:
    channel = (body.get("channel") or {}).get("id", "")
    stored = replier.state.record_feedback(action.get("value", ""), helpful, body["user"]["id"], channel)
    text = "Thanks, your feedback was recorded." if stored else "Sorry, that answer is too old to rate."
    respond(response_type="ephemeral", replace_original=False, text=text)
