"""Listeners grouped by kind; each module has a `register(app, replier)`."""

from slack_bolt import App

from ..replies import Replier
from .actions import feedback, post_answer
from .assistant import panel
from .commands import ask
from .events import app_home, app_mention, messages


def register(app: App, replier: Replier) -> None:
    for module in (app_mention, messages, panel, ask, feedback, post_answer, app_home):
        module.register(app, replier)
