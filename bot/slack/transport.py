"""Posting to Slack: the reply message (growing while an LLM answer streams), the "working
on it" reaction, and the one-line refusal a user who may not ask gets."""

from __future__ import annotations

import logging
import time
from contextlib import contextmanager

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from .blocks import SECTION_LIMIT, draft_blocks, escape, fit, notice_blocks
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


class LiveReply:
    """One reply message: a streamed draft is posted, then edited as it grows (at most once
    every `interval` seconds, well inside Slack's chat.update rate limit), and finally
    replaced by the checked answer. Without a draft it is a single chat.postMessage."""

    def __init__(self, client: WebClient, channel: str, thread_ts: str | None, interval: float = 1.0):
        self.client, self.channel, self.thread_ts, self.interval = client, channel, thread_ts, interval
        self.ts: str | None = None
        self._last = 0.0

    def draft(self, text: str) -> None:
        if time.monotonic() - self._last < self.interval:
            return
        self._last = time.monotonic()
        fields = {"text": fit(escape(text), SECTION_LIMIT), "blocks": draft_blocks(text)}
        try:
            if self.ts is None:
                self.ts = self.client.chat_postMessage(channel=self.channel, thread_ts=self.thread_ts,
                                                       unfurl_links=False, unfurl_media=False, **fields)["ts"]
            else:
                self.client.chat_update(channel=self.channel, ts=self.ts, **fields)
        except SlackApiError as exc:  # a lost draft only costs the preview; the answer still comes
            log.warning("draft not shown: %s", exc.response.get("error"))

    def finish(self, reply: Reply) -> None:
        if self.ts is not None:
            try:
                self.client.chat_update(channel=self.channel, ts=self.ts, text=reply.text, blocks=reply.blocks)
                return
            except SlackApiError as exc:  # the draft was deleted, say: the answer is posted anew
                log.warning("draft not updated: %s", exc.response.get("error"))
        post_reply(self.client, self.channel, self.thread_ts, reply)


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
        if exc.response.get("error") == "already_reacted":  # a replica that died on this question showed it
            return True
        log.warning("reaction not shown: %s", exc.response.get("error"))
        return False


def refuse(client: WebClient, channel: str, user: str, thread_ts: str | None, text: str, *, direct: bool) -> None:
    """One line only `user` sees: ephemeral in a channel, a message in their own DM. `text`
    is our own wording (it may mention an admin), so it is not escaped again."""
    fields = {"channel": channel, "text": text, "blocks": notice_blocks(text, escaped=True)}
    try:
        if direct:
            client.chat_postMessage(thread_ts=thread_ts, **fields)
        else:
            client.chat_postEphemeral(user=user, thread_ts=thread_ts, **fields)
    except SlackApiError as exc:
        log.warning("refusal not shown in %s: %s", channel, exc.response.get("error"))
