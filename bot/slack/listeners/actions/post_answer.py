"""The "Post to channel" button of a private /ask answer. The bot need not be a member of a
public channel (chat:write.public); where Slack still refuses, the user is told in one line."""

from __future__ import annotations

import logging

from slack_bolt import App, BoltContext, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from ...access import asker_from_interaction, workspace_of
from ...blocks import POST_TO_CHANNEL, answer_blocks, context_block, escape, fallback_text
from ...replies import Replier
from ..acks import acknowledge

REFUSED = {
    "not_in_channel": "I cannot post in this channel: invite me with /invite, then click again.",
    "channel_not_found": "I cannot post in this channel (it is private and I am not a member): invite me with /invite.",
    "is_archived": "This channel is archived, so I cannot post there.",
    "restricted_action": "This workspace does not let me post in this channel.",
}
log = logging.getLogger(__name__)


def register(app: App, replier: Replier) -> None:
    def post_answer(body: dict, action: dict, client: WebClient, respond: Respond, context: BoltContext) -> None:
        user = body["user"]
        channel = body["channel"]["id"]
        answer, refusal = replier.shareable(action.get("value", ""),
                                            asker_from_interaction(user["id"], user.get("team_id"), channel,
                                                                   workspace_of(context)))
        if answer is None:
            respond(response_type="ephemeral", replace_original=False, text=refusal)
            return
        asker = context_block(f"<@{escape(user['id'])}> asked: {escape(answer.question)}")
        try:
            client.chat_postMessage(channel=channel, text=fallback_text(answer),
                                    blocks=[asker, *answer_blocks(answer, action["value"])],
                                    unfurl_links=False, unfurl_media=False)
        except SlackApiError as exc:
            error = exc.response.get("error")
            log.warning("posting an answer to %s refused: %s", channel, error)
            respond(response_type="ephemeral", replace_original=False,
                    text=REFUSED.get(error, "Slack refused to post this answer here; it stays visible to you only."))
            return
        respond(delete_original=True)

    app.action(POST_TO_CHANNEL)(ack=acknowledge, lazy=[post_answer])
