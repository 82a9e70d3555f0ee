"""Listeners grouped by kind; each module has a `register(app, replier)`. The modules that
answer questions also have an `answer(replier, client, question, give_up)`, which both their
live listener and `answer_again` (for a question taken over from a replica that died) call."""

from __future__ import annotations

from slack_bolt import App
from slack_sdk import WebClient

from ..questions import Question
from ..replies import Replier
from ..state import Claim
from .actions import feedback, post_answer
from .answering import Answerer, settle
from .assistant import panel
from .commands import ask
from .events import app_home, app_mention, messages

ANSWERERS: dict[str, Answerer] = {"mention": app_mention.answer, "message": messages.answer,
                                  "assistant": panel.answer, "command": ask.answer}


def register(app: App, replier: Replier) -> None:
    for module in (app_mention, messages, panel, ask, feedback, post_answer, app_home):
        module.register(app, replier)


def answer_again(replier: Replier, client: WebClient, claim: Claim) -> None:
    """A claim the sweeper took over: answered by the listener code of its kind, as a live
    question is (access re-checked, the same reply), or told it failed (claim.give_up)."""
    question = Question.from_dict(claim.question)
    settle(replier, claim.event_id, lambda: ANSWERERS[question.kind](replier, client, question, claim.give_up))
