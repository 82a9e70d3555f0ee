"""Plain messages: direct messages to the bot, and follow-ups in a channel thread the bot
already answered. Everything else (edits, joins, bots, mentions handled as app_mention) is
ignored."""

from __future__ import annotations

from slack_bolt import App, BoltContext
from slack_sdk import WebClient

from ...replies import Replier, plain_question
from ...transport import LiveReply, working


def register(app: App, replier: Replier) -> None:
    @app.event("message")
    def on_message(event: dict, client: WebClient, context: BoltContext) -> None:
        handle_message(event, client, replier, context.bot_user_id)


def handle_message(event: dict, client: WebClient, replier: Replier, bot_user_id: str | None) -> None:
    if event.get("subtype") or event.get("bot_id") or not event.get("user") or event.get("user") == bot_user_id:
        return
    channel, text = event["channel"], event.get("text", "")
    thread_ts = event.get("thread_ts")
    if event.get("channel_type") == "im":
        target_thread = thread_ts  # threaded when the question was
    elif thread_ts and thread_ts != event["ts"] and replier.is_known_thread(channel, thread_ts):
        if bot_user_id and f"<@{bot_user_id}" in text:
            return  # the app_mention event answers this one
        target_thread = thread_ts
    else:
        return
    live = LiveReply(client, channel, target_thread)
    with working(client, channel, event["ts"]):
        reply = replier.reply(plain_question(text, bot_user_id), channel, target_thread, on_draft=live.draft)
    live.finish(reply)
