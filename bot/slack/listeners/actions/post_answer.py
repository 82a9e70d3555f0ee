"""The "Post to channel" button of a private /ask answer."""

from __future__ import annotations

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from ...blocks import POST_TO_CHANNEL, answer_blocks, context_block, escape, fallback_text
from ...replies import Replier


def register(app: App, replier: Replier) -> None:
    @app.action(POST_TO_CHANNEL)
    def on_post(ack: Ack, body: dict, action: dict, client: WebClient, respond: Respond) -> None:
        ack()
        stored = replier.state.load_answer(action.get("value", ""))
        if stored is None:
            respond(response_type="ephemeral", replace_original=False, text="Sorry, that answer is too old to post.")
            return
        answer, _ = stored
        asker = context_block(f"<@{escape(body['user']['id'])}> asked: {escape(answer.question)}")
        client.chat_postMessage(
            channel=body["channel"]["id"],
            text=fallback_text(answer),
            blocks=[asker, *answer_blocks(answer, action["value"])],
            unfurl_links=False,
            unfurl_media=False,
        )
        respond(delete_original=True)
