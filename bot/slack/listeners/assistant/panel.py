"""Slack's assistant panel. It searches the corpus of the channel the user is viewing (when
the access rules let them ask it; else the [default] corpus) and says which. The viewed
channel comes with assistant_thread_started and assistant_thread_context_changed and is kept
in Bolt's thread-context store, backed by the state file. It sets the thread's title, offers
the corpus's suggested prompts, shows a status while working and answers in the thread."""

from __future__ import annotations

from slack_bolt import App, Assistant, BoltContext, SaveThreadContext, Say, SetStatus, SetSuggestedPrompts, SetTitle
from slack_sdk import WebClient

from ...access import Admission, panel_asker, workspace_of
from ...blocks import context_block, escape
from ...questions import Question
from ...replies import Replier, Reply, plain_question
from ...transport import LiveReply, refuse
from ..acks import acknowledge
from ..answering import answer_live

TITLE_LIMIT = 80


def register(app: App, replier: Replier) -> None:
    assistant = Assistant(thread_context_store=replier.state.thread_contexts)

    def admission_for(payload: dict, user: str, viewing: dict | None, context: BoltContext) -> Admission:
        channel = payload.get("channel") or payload["assistant_thread"]["channel_id"]
        team = payload.get("user_team") or payload.get("team") or context.team_id
        return replier.admit(panel_asker(user, team, channel, (viewing or {}).get("channel_id"), workspace_of(context)))

    def offer(admission: Admission, set_suggested_prompts: SetSuggestedPrompts, context: BoltContext) -> None:
        prompts = replier.prompts_for(admission.corpus, workspace_of(context))
        if prompts:
            set_suggested_prompts(prompts=[{"title": p, "message": p} for p in prompts[:4]],
                                  title=f"Ask the corpus '{admission.corpus}'")

    def greet(payload: dict, say: Say, set_suggested_prompts: SetSuggestedPrompts,
              save_thread_context: SaveThreadContext, context: BoltContext) -> None:
        thread = payload["assistant_thread"]
        viewing = thread.get("context") or {}
        if viewing.get("channel_id"):
            save_thread_context(viewing)
        admission = admission_for(payload, thread["user_id"], viewing, context)
        if not admission.allowed:
            say(admission.refusal)
            return
        say(f"Hi! I answer from the corpus '{escape(admission.corpus)}' with quotes and their sources. Ask away.")
        offer(admission, set_suggested_prompts, context)

    def follow_channel(payload: dict, set_suggested_prompts: SetSuggestedPrompts,
                       save_thread_context: SaveThreadContext, context: BoltContext) -> None:
        thread = payload["assistant_thread"]
        save_thread_context(thread.get("context") or {})
        admission = admission_for(payload, thread["user_id"], thread.get("context"), context)
        if admission.allowed:
            offer(admission, set_suggested_prompts, context)

    def answer_user_message(body: dict, client: WebClient, context: BoltContext) -> None:
        answer_live(replier, client, body, context, answer)

    assistant.thread_started(lazy=[greet])(acknowledge)
    assistant.thread_context_changed(lazy=[follow_channel])(acknowledge)
    assistant.user_message(lazy=[answer_user_message])(acknowledge)
    app.use(assistant)


def answer(replier: Replier, client: WebClient, question: Question, give_up: bool = False) -> None:
    """A message in an assistant thread. The viewed channel is read from the thread-context
    store, as Bolt's get_thread_context does for a message, so a replica that takes the
    question over sees what the first one saw."""
    q = question
    channel, thread_ts = q.channel, q.thread_ts
    viewing = replier.state.thread_contexts.find(channel_id=channel, thread_ts=thread_ts)
    admission = replier.admit(panel_asker(q.user, q.team, channel, (viewing or {}).get("channel_id"), q.workspace))
    if not admission.allowed:
        refuse(client, channel, q.user, thread_ts, admission.refusal, direct=True)
        return
    text = plain_question(q.text, q.bot_user_id)
    if not replier.is_known_thread(channel, thread_ts) and text:
        SetTitle(client, channel, thread_ts)(text[:TITLE_LIMIT])
    SetStatus(client, channel, thread_ts)(f"searching the corpus '{admission.corpus}'...")
    live = LiveReply(client, channel, thread_ts)
    reply = replier.reply(text, admission, channel, thread_ts, on_draft=live.draft, give_up=give_up)
    searched = context_block(f"_Searched the corpus '{escape(admission.corpus)}'_")
    live.finish(Reply(reply.text, [searched, *reply.blocks]))
