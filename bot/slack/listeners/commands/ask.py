"""`/ask question`: answered privately to the asker, with a button to post it."""

from __future__ import annotations

from slack_bolt import App, BoltContext, Respond
from slack_sdk import WebClient

from ...access import asker_from_interaction
from ...questions import Question
from ...replies import Replier, plain_question
from ..acks import acknowledge
from ..answering import answer_live


def register(app: App, replier: Replier) -> None:
    def answer_ask(body: dict, client: WebClient, context: BoltContext) -> None:
        answer_live(replier, client, body, context, answer)

    # acked within Slack's 3 seconds; the answer follows through response_url
    app.command("/ask")(ack=acknowledge, lazy=[answer_ask])


def answer(replier: Replier, client: WebClient, question: Question, give_up: bool = False) -> None:
    q = question
    # Bolt's own `respond`, made from the stored response_url (it needs no token).
    respond = Respond(response_url=q.response_url, proxy=client.proxy, ssl=client.ssl)
    admission = replier.admit(asker_from_interaction(q.user, q.team, q.channel, q.workspace))
    if not admission.allowed:
        respond(response_type="ephemeral", text=admission.refusal)
        return
    reply = replier.reply(plain_question(q.text, None), admission, q.channel, None, ephemeral=True, give_up=give_up)
    respond(response_type="ephemeral", text=reply.text, blocks=reply.blocks)
