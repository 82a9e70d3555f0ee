"""`@bot question` in a channel: answered in that message's thread."""

from __future__ import annotations

from slack_bolt import App, BoltContext
from slack_sdk import WebClient

from ...replies import Replier, plain_question
from ...transport import LiveReply, working


def register(app: App, replier: Replier) -> None:
    @app.event("app_mention")
    def on_mention(event: dict, client: WebClient, context: BoltContext) -> None:
        handle_mention(event, client, replier, context.bot_user_id)


def handle_mention(event: dict, client: WebClient, replier: Replier, bot_user_id: str | None) -> None:
    if event.get("subtype") or event.get("bot_id") or event.get("edited"):
        return  # edits and bot posts are not questions
    thread_ts = event.get("thread_ts") or event["ts"]
    live = LiveReply(client, event["channel"], thread_ts)
    with working(client, event["channel"], event["ts"]):
        reply = replier.reply(plain_question(event.get("text", ""), bot_user_id), event["channel"], thread_ts, on_draft=live.draft)
    live.finish(reply)
