"""Posting to Slack: the reply message and the "working on it" reaction."""

from __future__ import annotations

import logging
from contextlib import contextmanager

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from .replies import Reply

WORKING_REACTION = "eyes"
log = logging.getLogger(__name__)


def post_reply(client: WebClient, channel: str, thread_ts: str | None, reply: Reply) -> None:
    client.chat_postMessage(
        channel=channel,
        thread_ts=thread_ts,
        text=reply.text,
        blocks=reply.blocks,
        unfurl_links=False,
        unfurl_media=False,
    )


@contextmanager
def working(client: WebClient, channel: str, ts: str):
    """Shows at once that the question was seen (a reaction), removed when answered. A
    workspace that did not grant reactions:write still gets its answer."""
    shown = _react(client.reactions_add, channel, ts)
    try:
        yield
    finally:
        if shown:
            _react(client.reactions_remove, channel, ts)


def _react(method, channel: str, ts: str) -> bool:
    try:
        method(channel=channel, timestamp=ts, name=WORKING_REACTION)
        return True
    except SlackApiError as exc:
        log.warning("reaction not shown: %s", exc.response.get("error"))
        return False
