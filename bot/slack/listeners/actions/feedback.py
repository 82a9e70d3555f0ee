"""Helpful / Not helpful clicks: one vote per user per answer; a second click changes it."""

from __future__ import annotations

from slack_bolt import App, BoltContext, Respond

from ...access import workspace_of
from ...blocks import HELPFUL, NOT_HELPFUL
from ...replies import Replier
from ..acks import acknowledge


def register(app: App, replier: Replier) -> None:
    def record_helpful(body: dict, action: dict, respond: Respond, context: BoltContext) -> None:
        record(replier, body, action, True, respond, workspace_of(context))

    def record_not_helpful(body: dict, action: dict, respond: Respond, context: BoltContext) -> None:
        record(replier, body, action, False, respond, workspace_of(context))

    app.action(HELPFUL)(ack=acknowledge, lazy=[record_helpful])
    app.action(NOT_HELPFUL)(ack=acknowledge, lazy=[record_not_helpful])


def record(replier: Replier, body: dict, action: dict, helpful: bool, respond: Respond, team: str | None) -> None:
    channel = (body.get("channel") or {}).get("id", "")
    stored = replier.state.record_feedback(action.get("value", ""), helpful, body["user"]["id"], channel, team)
    text = "Thanks, your feedback was recorded." if stored else "Sorry, that answer is too old to rate."
    respond(response_type="ephemeral", replace_original=False, text=text)
