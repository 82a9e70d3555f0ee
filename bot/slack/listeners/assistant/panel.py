"""Slack's assistant panel: suggested prompts when a thread opens, a status while working,
the answer in the assistant thread."""

from __future__ import annotations

from slack_bolt import App, Assistant, Say, SetStatus, SetSuggestedPrompts
from slack_sdk import WebClient

from ...replies import Replier, plain_question
from ...transport import LiveReply

GREETING = "Hi! Ask me anything about the documents I index; I answer with quotes and their sources."
STATUS = "searching the corpus..."


def register(app: App, replier: Replier) -> None:
    assistant = Assistant()
    prompts = [p.strip() for p in replier.settings.slack_suggested_prompts.split(";") if p.strip()]

    @assistant.thread_started
    def on_thread_started(say: Say, set_suggested_prompts: SetSuggestedPrompts) -> None:
        say(GREETING)
        if prompts:
            set_suggested_prompts(prompts=[{"title": p, "message": p} for p in prompts[:4]])

    @assistant.user_message
    def on_user_message(payload: dict, client: WebClient, set_status: SetStatus) -> None:
        set_status(STATUS)
        live = LiveReply(client, payload["channel"], payload["thread_ts"])
        reply = replier.reply(plain_question(payload.get("text", ""), None), payload["channel"], payload["thread_ts"],
                              on_draft=live.draft)
        live.finish(reply)

    app.use(assistant)
