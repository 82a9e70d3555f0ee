"""`/ask question`: answered privately to the asker, with a button to post it."""

from __future__ import annotations

from slack_bolt import Ack, App, Respond

from ...replies import Replier, plain_question


def register(app: App, replier: Replier) -> None:
    @app.command("/ask")
    def on_ask(ack: Ack, command: dict, respond: Respond) -> None:
        ack()  # within Slack's 3 seconds; the answer follows through response_url
        reply = replier.reply(plain_question(command.get("text", ""), None), command.get("channel_id"), None, ephemeral=True)
        respond(response_type="ephemeral", text=reply.text, blocks=reply.blocks)
