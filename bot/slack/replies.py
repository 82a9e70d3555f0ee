"""Question in, Slack reply out: the one place the Slack layer calls the answer chain.

Errors become short replies: what the user can fix is said plainly; anything else is an
apology in the thread and the full error in the log (never a token, never a traceback in
Slack).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass

from retrieval.chain import Engine
from retrieval.errors import CorpusNotFound, UsageError
from retrieval.settings import Settings

from .blocks import answer_blocks, escape, fallback_text, notice_blocks
from .state import SlackState

APOLOGY = "Sorry, something went wrong while answering. The error has been logged; please try again in a minute."
EMPTY = "Ask me a question, for example: What did Shoigu ask Wallace?"

log = logging.getLogger(__name__)


@dataclass
class Reply:
    text: str  # notification / fallback text, already escaped
    blocks: list[dict]


def plain_question(text: str, bot_user_id: str | None) -> str:
    """Slack's message markup as the plain text the user typed: without the bot's own
    @-mention, links and mentions as their labels, and Slack's &amp; &lt; &gt; unescaped
    (they are escaped again, once, on the way out)."""
    if bot_user_id:
        text = re.sub(rf"<@{re.escape(bot_user_id)}(\|[^>]*)?>", " ", text)
    text = re.sub(r"<[@#!]?[^<>|]*\|([^<>]*)>", r"\1", text)  # <url|label>, <#C1|general>
    text = re.sub(r"<([@#!]?[^<>]*)>", r"\1", text)  # <url>, <@U123>
    text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return " ".join(text.split())


class Replier:
    def __init__(self, engine: Engine, state: SlackState, settings: Settings):
        self.engine, self.state, self.settings = engine, state, settings

    def reply(self, question: str, channel: str, thread_ts: str | None, *, ephemeral: bool = False,
              on_draft: Callable[[str], None] | None = None) -> Reply:
        """Answer `question` asked in `channel` (in the thread `thread_ts`, if any: earlier
        turns of that thread make it a follow-up). `on_draft` sees an LLM answer's text as
        it streams."""
        if not question.strip():
            return Reply(EMPTY, notice_blocks(EMPTY))
        corpus = self.settings.corpus_for_channel(channel)
        try:
            history = self.state.history(channel, thread_ts) if thread_ts else []
            answer = self.engine.answer(question, corpus, history, on_draft)
        except UsageError as exc:
            return Reply(escape(str(exc)), notice_blocks(str(exc)[:1].upper() + str(exc)[1:] + "."))
        except CorpusNotFound:
            text = (f"This channel searches the corpus '{corpus}', which has not been ingested yet. "
                    f"An admin can add it with: qa ingest PATH --corpus {corpus}")
            return Reply(escape(text), notice_blocks(text))
        except Exception:
            log.exception("answering failed (channel %s)", channel)
            return Reply(APOLOGY, notice_blocks(APOLOGY))
        answer_id = self.state.save_answer(answer, corpus)
        if thread_ts:
            self.state.add_turn(channel, thread_ts, answer)
        return Reply(fallback_text(answer), answer_blocks(answer, answer_id, ephemeral=ephemeral))

    def is_known_thread(self, channel: str, thread_ts: str) -> bool:
        return bool(self.state.history(channel, thread_ts))
