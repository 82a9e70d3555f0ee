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

from retrieval.engine import Engine
from retrieval.errors import CorpusNotFound, QAError, UsageError
from retrieval.settings import Settings
from retrieval.store.corpus import list_corpora
from retrieval.types import Answer

from .access import AccessControl, Admission, Asker, home_asker, workspace_of
from .blocks import Home, HomeCorpus, answer_blocks, escape, fallback_text, notice_blocks
from .state import SlackState

APOLOGY = "Sorry, something went wrong while answering. The error has been logged; please try again in a minute."
EMPTY = "Ask me a question, for example: What did Shoigu ask Wallace?"
GAVE_UP = ("Sorry, I could not answer this question: every attempt was interrupted before the answer was ready. "
           "Please ask again in a few minutes; if this keeps happening, tell the person who runs this bot.")

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


QUESTION_WORDS = re.compile(
    r"^(?:(?:and|but|so|also|then|ok|okay)[,\s]+)?(?:what|who|whom|whose|when|where|why|how|which|is|are|was|were|"
    r"do|does|did|can|could|would|should|will|shall|may|might|has|have|had|tell me|explain|any)\b", re.I)


def reads_as_question(text: str) -> bool:
    """A thread follow-up worth answering: it ends with "?" or opens like a question."""
    text = text.strip()
    return text.endswith("?") or bool(QUESTION_WORDS.match(text))


class Replier:
    def __init__(self, engine: Engine, state: SlackState, settings: Settings, access: AccessControl):
        self.engine, self.state, self.settings, self.access = engine, state, settings, access

    def admit(self, asker: Asker) -> Admission:
        """The access rule, for every entry point: the corpus `asker` may ask, or a refusal.
        `reply` needs the admission, so nothing is answered without passing here."""
        return self.access.decide(asker)

    def shareable(self, answer_id: str, asker: Asker) -> tuple[Answer | None, str | None]:
        """The stored answer `asker` may post to `asker.channel`, or why not (the access
        rule's decide_post)."""
        stored = self.state.load_answer(answer_id)
        if stored is None:
            return None, "Sorry, that answer is too old to post."
        answer, corpus = stored
        admission = self.access.decide_post(asker, corpus)
        return (answer, None) if admission.allowed else (None, admission.refusal)

    def reply(self, question: str, admission: Admission, channel: str, thread_ts: str | None, *,
              ephemeral: bool = False, on_draft: Callable[[str], None] | None = None, give_up: bool = False) -> Reply:
        """Answer `question` asked in `channel` from the admitted corpus (in the thread
        `thread_ts`, if any: earlier turns of that thread make it a follow-up). `on_draft`
        sees an LLM answer's text as it streams. With `give_up` (its earlier attempts all
        died), the reply says so rather than trying once more."""
        if not admission.allowed or admission.corpus is None:
            raise ValueError("reply() needs an admission that allows the question")
        if give_up:
            return Reply(GAVE_UP, notice_blocks(GAVE_UP))
        if not question.strip():
            return Reply(EMPTY, notice_blocks(EMPTY))
        corpus = admission.corpus
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

    def home(self, user: str, context) -> Home:
        """What `user`'s App Home shows: each corpus they may ask, where, with its size and
        last ingest; for admins, the votes and the latest unhelpful questions."""
        workspace = workspace_of(context)
        policy = self.access.policy(workspace)
        where: dict[str, list[str]] = {}
        for channel in [None, *sorted(policy.channels)]:
            admission = self.admit(home_asker(user, channel, workspace))
            if admission.allowed:
                where.setdefault(admission.corpus, []).append(channel or "")
        try:
            stats = {info.corpus: info for info in list_corpora(self.engine.client, self.settings)}
        except QAError:
            log.warning("App Home: the store did not answer; corpora shown without their counts", exc_info=True)
            stats = {}
        corpora = [HomeCorpus(corpus, channels, stats[corpus].documents if corpus in stats else None,
                              stats[corpus].updated if corpus in stats else None) for corpus, channels in sorted(where.items())]
        if user not in policy.admins:
            return Home(corpora)
        # Installed in several workspaces, an admin sees the votes of their own workspace only.
        team = workspace if self.settings.oauth_install else None
        unhelpful = [row["question"] for row in self.state.feedback_rows(team) if not row["helpful"]][-5:]
        return Home(corpora, self.state.feedback_summary(team), unhelpful, is_admin=True)

    def prompts_for(self, corpus: str | None, workspace: str | None = None) -> list[str]:
        """Suggested questions for `corpus`: the access file's [prompts] (the workspace's),
        else (for the default corpus only) QA_SLACK_SUGGESTED_PROMPTS."""
        listed = self.access.policy(workspace).prompts.get(corpus or "")
        if listed:
            return list(listed)
        if corpus == self.settings.corpus:
            return [p.strip() for p in self.settings.slack_suggested_prompts.split(";") if p.strip()]
        return []

    def answered(self, key: str | None) -> None:
        """The claimed request `key` is dealt with (its reply posted): neither a retry nor a
        sweeper answers it again (until then, a claim left stale past QA_STATE_CLAIM_TIMEOUT
        is answered by another replica)."""
        if key:
            self.state.finish_event(key)

    def is_known_thread(self, channel: str, thread_ts: str) -> bool:
        return bool(self.state.history(channel, thread_ts))
