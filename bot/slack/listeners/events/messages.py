"""Plain messages: direct messages to the bot, and follow-ups in a channel thread the bot
already answered (those as QA_SLACK_FOLLOWUPS says: only mentions, also questions, or all).
Everything else (edits, joins, bots, mentions handled as app_mention) is ignored: such
events carry no Question (bot/slack/questions.py)."""

from __future__ import annotations

from slack_bolt import App, BoltContext
from slack_sdk import WebClient

from ...access import asker_from_event
from ...questions import Question
from ...replies import Replier, plain_question, reads_as_question
from ...transport import LiveReply, refuse, working
from ..acks import acknowledge
from ..answering import answer_live


def register(app: App, replier: Replier) -> None:
    def answer_message(body: dict, client: WebClient, context: BoltContext) -> None:
        answer_live(replier, client, body, context, answer)

    app.event("message")(ack=acknowledge, lazy=[answer_message])


def answer(replier: Replier, client: WebClient, question: Question, give_up: bool = False) -> None:
    q = question
    bot_user_id = q.bot_user_id
    direct = q.channel_type == "im"
    if direct:
        target_thread = q.thread_ts  # threaded when the question was; a DM answers every message
    elif q.thread_ts and q.thread_ts != q.ts and replier.is_known_thread(q.channel, q.thread_ts):
        if bot_user_id and f"<@{bot_user_id}" in q.text:
            return  # the app_mention event answers this one
        if not wanted_followup(replier.settings.slack_followups, plain_question(q.text, bot_user_id)):
            return  # "thanks!" is not a question
        target_thread = q.thread_ts
    else:
        return
    admission = replier.admit(asker_from_event(q.user, q.team, q.workspace, q.channel, q.channel_type, q.shared))
    if not admission.allowed:
        refuse(client, q.channel, q.user, q.thread_ts, admission.refusal, direct=direct)
        return
    live = LiveReply(client, q.channel, target_thread)
    with working(client, q.channel, q.ts):
        reply = replier.reply(plain_question(q.text, bot_user_id), admission, q.channel, target_thread,
                              on_draft=live.draft, give_up=give_up)
    live.finish(reply)


def wanted_followup(mode: str, text: str) -> bool:
    return mode == "all" or (mode == "question" and reads_as_question(text))
