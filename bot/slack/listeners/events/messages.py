"""Plain messages: direct messages to the bot, and follow-ups in a channel thread the bot
already answered (those as QA_SLACK_FOLLOWUPS says: only mentions, also questions, or all).
Everything else (edits, joins, bots, mentions handled as app_mention) is ignored."""

from __future__ import annotations

from slack_bolt import App, BoltContext
from slack_sdk import WebClient

from ...access import asker_from_event
from ...replies import Replier, plain_question, reads_as_question
from ...transport import LiveReply, refuse, working
from ..acks import acknowledge


def register(app: App, replier: Replier) -> None:
    def answer_message(body: dict, event: dict, client: WebClient, context: BoltContext) -> None:
        handle_message(body, event, client, replier, context)

    app.event("message")(ack=acknowledge, lazy=[answer_message])


def handle_message(body: dict, event: dict, client: WebClient, replier: Replier, context: BoltContext) -> None:
    bot_user_id = context.bot_user_id
    if event.get("subtype") or event.get("bot_id") or not event.get("user") or event.get("user") == bot_user_id:
        return
    channel, text = event["channel"], event.get("text", "")
    thread_ts = event.get("thread_ts")
    direct = event.get("channel_type") == "im"
    if direct:
        target_thread = thread_ts  # threaded when the question was; a DM answers every message
    elif thread_ts and thread_ts != event["ts"] and replier.is_known_thread(channel, thread_ts):
        if bot_user_id and f"<@{bot_user_id}" in text:
            return  # the app_mention event answers this one
        if not wanted_followup(replier.settings.slack_followups, plain_question(text, bot_user_id)):
            return  # "thanks!" is not a question
        target_thread = thread_ts
    else:
        return
    admission = replier.admit(asker_from_event(body, event, context))
    if not admission.allowed:
        refuse(client, channel, event["user"], thread_ts, admission.refusal, direct=direct)
        replier.answered(body)
        return
    live = LiveReply(client, channel, target_thread)
    with working(client, channel, event["ts"]):
        reply = replier.reply(plain_question(text, bot_user_id), admission, channel, target_thread, on_draft=live.draft)
    live.finish(reply)
    replier.answered(body)


def wanted_followup(mode: str, text: str) -> bool:
    return mode == "all" or (mode == "question" and reads_as_question(text))
