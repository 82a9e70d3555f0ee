"""`/ask question`: answered privately to the asker, with a button to post it."""

from __future__ import annotations

from slack_bolt import App, BoltContext, Respond

from ...access import asker_from_interaction
from ...replies import Replier, plain_question
from ..acks import acknowledge


def register(app: App, replier: Replier) -> None:
    def answer_ask(command: dict, respond: Respond, context: BoltContext) -> None:
        channel = command.get("channel_id", "")
        admission = replier.admit(asker_from_interaction(command.get("user_id", ""), command.get("user_team_id")
                                                         or command.get("team_id"), channel, context))
        if not admission.allowed:
            respond(response_type="ephemeral", text=admission.refusal)
            return
        reply = replier.reply(plain_question(command.get("text", ""), None), admission, channel, None, ephemeral=True)
        respond(response_type="ephemeral", text=reply.text, blocks=reply.blocks)

    # acked within Slack's 3 seconds; the answer follows through response_url
    app.command("/ask")(ack=acknowledge, lazy=[answer_ask])
