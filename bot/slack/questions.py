"""A Slack question as plain data: what any replica needs to answer it, so that a question
whose replica died after acknowledging it (Slack then never retries) can be answered by
another one. It is parsed from the request when the event is claimed, stored with the claim
(bot/slack/state.py) until the answer is posted, and read back by the sweeper
(bot/slack/sweeper.py). Every answer, live or taken over, starts from a Question, so both
go through the same listener code.

Fields are picked one by one, never copied wholesale from the payload: the envelope's
verification token and anything else Slack adds stay out of the database.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, fields

from slack_bolt.request.payload_utils import is_user_message_event_in_assistant_thread

from .access import workspace_of

# Slack: a slash command's response_url takes replies for 30 minutes. A minute is kept in
# hand, so that an answer worked out near the end still arrives.
RESPONSE_URL_LIFETIME = 29 * 60.0
KINDS = ("mention", "message", "assistant", "command")
ASK = "/ask"  # the one slash command (bot/manifest.yaml)


@dataclass(frozen=True)
class Question:
    kind: str  # one of KINDS: which listener answers it
    user: str
    team: str | None  # the asker's own workspace, as the payload says
    workspace: str | None  # the app's workspace
    channel: str
    channel_type: str | None  # "im" for a direct message
    text: str  # as Slack sent it, markup included (the listener makes it plain)
    ts: str | None  # the message's own ts (None for /ask)
    thread_ts: str | None  # the thread it was posted in, if any
    shared: bool | None  # the envelope's is_ext_shared_channel; None: look it up
    bot_user_id: str | None  # the bot's own user, to strip its @-mention
    response_url: str | None  # /ask only: where its private answer goes
    asked_at: float  # Unix time it was first claimed
    enterprise: str | None = None  # the app's Enterprise Grid org, if any: with `workspace`, whose token answers

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "Question":
        return cls(**{f.name: data.get(f.name) for f in fields(cls)})

    def expired(self, now: float | None = None) -> bool:
        """Past the point where its answer can still reach the asker (a /ask's response_url)."""
        now = time.time() if now is None else now
        return self.kind == "command" and now > self.asked_at + RESPONSE_URL_LIFETIME


def claim_key(body: dict) -> str | None:
    """What a request is claimed by: the event id (Slack's retries repeat it) or an /ask's
    trigger id (commands are not retried, but a replica can still die on one)."""
    event_id = body.get("event_id")
    if isinstance(event_id, str) and event_id:
        return event_id
    trigger = body.get("trigger_id")
    if body.get("command") == ASK and isinstance(trigger, str) and trigger:
        return f"command:{trigger}"
    return None


def question_from_body(body: dict, context, now: float | None = None) -> Question | None:
    """The question a request asks, or None when it asks none: an edit, a bot's post, a
    join, a channel message outside any thread, a button click, the App Home..."""
    now = time.time() if now is None else now
    workspace, bot_user_id = workspace_of(context), context.bot_user_id
    enterprise = context.enterprise_id
    if body.get("command") == ASK:
        return Question("command", _text(body, "user_id"), body.get("user_team_id") or body.get("team_id"), workspace,
                        _text(body, "channel_id"), None, _text(body, "text"), None, None, None, None,
                        _text(body, "response_url") or None, now, enterprise)
    event = body.get("event")
    if (body.get("type") != "event_callback" or not isinstance(event, dict) or not isinstance(event.get("channel"), str)
            or not isinstance(event.get("ts"), str)):
        return None
    if event.get("type") == "app_mention":
        if event.get("subtype") or event.get("bot_id") or event.get("edited"):
            return None
        kind, team = "mention", event.get("user_team") or event.get("team")
    elif is_user_message_event_in_assistant_thread(body):  # Bolt's own test: its Assistant takes these
        kind, team = "assistant", event.get("user_team") or event.get("team") or context.team_id
    elif event.get("type") == "message":
        if event.get("subtype") or event.get("bot_id") or not event.get("user") or event.get("user") == bot_user_id:
            return None
        in_thread = event.get("thread_ts") and event.get("thread_ts") != event.get("ts")
        if event.get("channel_type") != "im" and not in_thread:
            return None  # only a thread reply in a channel can be a follow-up
        kind, team = "message", event.get("user_team") or event.get("team")
    else:
        return None
    shared = bool(body["is_ext_shared_channel"]) if "is_ext_shared_channel" in body else None
    return Question(kind, _text(event, "user"), team, workspace, event["channel"], event.get("channel_type"),
                    _text(event, "text"), event["ts"], _text(event, "thread_ts") or None, shared,
                    bot_user_id, None, now, enterprise)


def _text(payload: dict, key: str) -> str:
    value = payload.get(key)
    return value if isinstance(value, str) else ""
