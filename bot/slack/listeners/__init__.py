"""Listeners grouped by kind; each module has a `register(app, replier)`. The modules that
answer questions also have an `answer(replier, client, question, give_up)`, which both their
live listener and `answer_again` (for a question taken over from a replica that died) call."""

from __future__ import annotations

import logging

from slack_bolt import App

from ..questions import Question
from ..replies import Replier
from ..state import Claim
from .actions import feedback, post_answer
from .answering import Answerer, settle
from .assistant import panel
from .commands import ask
from .events import app_home, app_mention, messages

log = logging.getLogger(__name__)

ANSWERERS: dict[str, Answerer] = {"mention": app_mention.answer, "message": messages.answer,
                                  "assistant": panel.answer, "command": ask.answer}


def register(app: App, replier: Replier) -> None:
    for module in (app_mention, messages, panel, ask, feedback, post_answer, app_home):
        module.register(app, replier)


def answer_again(replier: Replier, workspaces, claim: Claim) -> None:
    """A claim the sweeper took over: answered by the listener code of its kind, as a live
    question is (access re-checked, the same reply), or told it failed (claim.give_up). It is
    answered with the token of the workspace it was asked in (bot/slack/workspaces.py); one
    that has no token any more (uninstalled since) is given up: nothing can reach it."""
    question = Question.from_dict(claim.question)
    client = workspaces.client_for(question.workspace, question.enterprise)
    if client is None:
        log.error("event %s (%s): workspace %s has no token now; given up", claim.event_id, question.kind,
                  question.workspace)
        replier.state.fail_event(claim.event_id)
        return
    settle(replier, claim.event_id, lambda: ANSWERERS[question.kind](replier, client, question, claim.give_up))
