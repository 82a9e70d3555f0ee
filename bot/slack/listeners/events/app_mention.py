"""`@bot question` in a channel: answered in that message's thread."""

from __future__ import annotations

from slack_bolt import App, BoltContext
from slack_sdk import WebClient

from ...access import asker_from_event
from ...replies import Replier, plain_question
from ...transport import LiveReply, refuse, working
from ..acks import acknowledge


def register(app: App, replier: Replier) -> None:
    def answer_mention(body: dict, event: dict, client: WebClient, context: BoltContext) -> None:
        handle_mention(body, event, client, replier, context)

    app.event("app_mention")(ack=acknowledge, lazy=[answer_mention])


def handle_mention(body: dict, event: dict, client: WebClient, replier: Replier, context: BoltContext) -> None:
    if event.get("subtype") or event.get("bot_id") or event.get("edited"):
        return  # edits and bot posts are not questions
    thread_ts = event.get("thread_ts") or event["ts"]
    admission = replier.admit(asker_from_event(body, event, context))
    if not admission.allowed:
        refuse(client, event["channel"], event.get("user", ""), event.get("thread_ts"), admission.refusal, direct=False)
        replier.answered(body)
        return
    live = LiveReply(client, event["channel"], thread_ts)
    with working(client, event["channel"], event["ts"]):
        reply = replier.reply(plain_question(event.get("text", ""), context.bot_user_id), admission, event["channel"],
                              thread_ts, on_draft=live.draft)
    live.finish(reply)
    replier.answered(body)
