"""Answers as Block Kit. Every piece of corpus or user text goes through `escape`, so a
passage containing `<!channel>`, `<@U123>` or `<https://evil|click>` shows as text and
notifies nobody; every mrkdwn text object is `verbatim`, so Slack links no bare URL, channel
name or @name either. Text is escaped first and cut after (an entity is never split), to
Slack's limits: 3,000 characters a text object, 50 blocks a message, 10 context elements."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

from retrieval.types import Answer, Citation

SECTION_LIMIT = 3000  # Slack's limit on a section's (and any text object's) text
MAX_BLOCKS = 50  # Slack's limit on a message's blocks
MAX_CONTEXT_ELEMENTS = 10
HELPFUL, NOT_HELPFUL, POST_TO_CHANNEL = "feedback_helpful", "feedback_not_helpful", "post_answer"


def escape(text: str) -> str:
    """Slack's three control characters; with them escaped, nothing is a link or mention."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def fit(escaped: str, limit: int) -> str:
    """Already-escaped text cut to at most `limit` characters, never inside an entity
    (`&amp;` cut to `&am` would show as garbage)."""
    if len(escaped) <= limit:
        return escaped
    cut = escaped[: limit - 1]
    cut = re.sub(r"&[a-z]{0,3}$", "", cut)
    return cut + "…"


def quote_block(quote: str, limit: int = SECTION_LIMIT) -> str:
    return "> " + fit(escape(" ".join(quote.split())), limit - 2)


def citationcontext_block(citation: Citation) -> str:
    parts = [f"*{fit(escape(citation.title), 300)}*"]
    if citation.date:
        parts.append(fit(escape(citation.date), 100))
    parts.append(f"{fit(escape(citation.source), 1000)}, characters {citation.start}-{citation.end}")
    return " · ".join(parts)


def fallback_text(answer: Answer) -> str:
    """The notification / screen-reader text of the message."""
    plain = answer.abstained or answer.mode == "llm"
    return fit(escape(answer.answer if plain else f"“{answer.citations[0].quote}”"), SECTION_LIMIT)


def answer_blocks(answer: Answer, answer_id: str | None, *, ephemeral: bool = False) -> list[dict]:
    blocks: list[dict] = [context_block(f"_{fit(escape(answer.note), SECTION_LIMIT - 2)}_")] if answer.note else []
    if answer.abstained:
        blocks.append(_section(fit(escape(answer.answer), SECTION_LIMIT)))
    elif answer.mode == "llm":  # the model's text, then each verified quote it cites as [n]
        blocks.append(_section(fit(escape(answer.answer), SECTION_LIMIT)))
        room = (MAX_BLOCKS - len(blocks) - 2) // 2  # two blocks a citation; the buttons and a header line stay
        for number, citation in enumerate(answer.citations[:room], 1):
            blocks.append(_section(f"[{number}]\n" + quote_block(citation.quote, SECTION_LIMIT - 8)))
            blocks.append(context_block(citationcontext_block(citation)))
    else:  # as many as the answer has (QA_MAX_CITATIONS, at most 3: the engine decides)
        for number, citation in enumerate(answer.citations):
            if number == 1:
                blocks.append(context_block("Also relevant:"))
            blocks.append(_section(quote_block(citation.quote)))
            blocks.append(context_block(citationcontext_block(citation)))
    if answer_id is not None:
        buttons = [
            _button("Helpful", HELPFUL, answer_id),
            _button("Not helpful", NOT_HELPFUL, answer_id),
        ]
        if ephemeral:
            buttons.insert(0, _button("Post to channel", POST_TO_CHANNEL, answer_id, style="primary"))
        blocks.append({"type": "actions", "block_id": "answer_actions", "elements": buttons})
    return blocks


def draft_blocks(text: str) -> list[dict]:
    """An LLM answer while it streams: its text so far, marked as a draft."""
    return [_section(fit(escape(text), SECTION_LIMIT)), context_block("_Drafting; the quotes are being checked…_")]


def notice_blocks(text: str, escaped: bool = False) -> list[dict]:
    return [_section(fit(text if escaped else escape(text), SECTION_LIMIT))]


def _mrkdwn(text: str) -> dict:
    return {"type": "mrkdwn", "text": text, "verbatim": True}


def _section(text: str) -> dict:
    return {"type": "section", "text": _mrkdwn(text)}


def context_block(*texts: str) -> dict:
    """Up to ten lines of small print, each already escaped (and cut to the limit here)."""
    return {"type": "context", "elements": [_mrkdwn(fit(t, SECTION_LIMIT)) for t in texts[:MAX_CONTEXT_ELEMENTS]]}


def _button(label: str, action_id: str, value: str, style: str | None = None) -> dict:
    button = {"type": "button", "text": {"type": "plain_text", "text": label}, "action_id": action_id, "value": value}
    if style:
        button["style"] = style
    return button


@dataclass(frozen=True)
class HomeCorpus:
    corpus: str
    channels: list[str]  # channel ids where this corpus answers; "" for DMs and the panel
    documents: int | None  # None: not ingested yet (or the store did not answer)
    updated: float | None  # last ingest, Unix time


@dataclass(frozen=True)
class Home:
    corpora: list[HomeCorpus]
    feedback: list = field(default_factory=list)  # FeedbackSummary rows, admins only
    unhelpful: list[str] = field(default_factory=list)
    is_admin: bool = False


def home_blocks(home: Home) -> list[dict]:
    """The App Home view, within Slack's 100 blocks a view."""
    blocks: list[dict] = [{"type": "header", "text": {"type": "plain_text", "text": "What you can ask"}}]
    if not home.corpora:
        blocks.append(_section("You may not ask any corpus here yet. Ask the person who runs this bot for access."))
    for item in home.corpora[:40]:
        places = ", ".join("DMs and the assistant panel" if not c else f"<#{escape(c)}>" for c in item.channels)
        size = "not ingested yet" if item.documents is None else f"{item.documents} documents"
        when = (f", last ingest {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(item.updated))}"
                if item.updated else "")
        blocks.append(_section(fit(f"*{escape(item.corpus)}*: {size}{when}\nAsk it in: {places}", SECTION_LIMIT)))
    blocks.append(_section("*How to ask*: mention me in a channel (`@qa-bot What did ... ?`), send me a direct "
                           "message, open the assistant panel, or type `/ask your question` to get a private answer "
                           "you can then post. Answers quote the documents word for word, with their source."))
    if home.is_admin:
        blocks.append({"type": "header", "text": {"type": "plain_text", "text": "Feedback (admins)"}})
        lines = [f"*{escape(f.corpus)}*: {f.helpful} helpful, {f.not_helpful} not helpful" for f in home.feedback]
        blocks.append(_section(fit("\n".join(lines) or "No votes yet.", SECTION_LIMIT)))
        if home.unhelpful:
            blocks.append(_section(fit("*Latest unhelpful questions*\n" + "\n".join(
                f"• {fit(escape(q), 300)}" for q in home.unhelpful), SECTION_LIMIT)))
    return blocks
