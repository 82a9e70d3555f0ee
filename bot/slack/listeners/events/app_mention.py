"""`@bot question` in a channel: answered in that message's thread."""

from __future__ import annotations

from slack_bolt import App, BoltContext
from slack_sdk import WebClient

from ...access import asker_from_event
from ...questions import Question
from ...replies import Replier, plain_question
from ...transport import LiveReply, refuse, working
from ..acks import acknowledge
from ..answering import answer_live


def register(app: App, replier: Replier) -> None:
    def answer_mention(body: dict, client: WebClient, context: BoltContext) -> None:
        answer_live(replier, client, body, context, answer)

    app.event("app_mention")(ack=acknowledge, lazy=[answer_mention])


def answer(replier: Replier, client: WebClient, question: Question, give_up: bool = False) -> None:
    q = question
    thread_ts = q.thread_ts or q.ts
    admission = replier.admit(asker_from_event(q.user, q.team, q.workspace, q.channel, q.channel_type, q.shared))
    if not admission.allowed:
        refuse(client, q.channel, q.user, q.thread_ts, admission.refusal, direct=False)
        return
    live = LiveReply(client, q.channel, thread_ts)
    with working(client, q.channel, q.ts):
        reply = replier.reply(plain_question(q.text, q.bot_user_id), admission, q.channel, thread_ts,
                              on_draft=live.draft, give_up=give_up)
    live.finish(reply)
