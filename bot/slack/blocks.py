"""Answers as Block Kit. Every piece of corpus or user text goes through `escape`, so a
passage containing `<!channel>`, `<@U123>` or `<https://evil|click>` shows as text and
notifies nobody."""

from __future__ import annotations

from retrieval.types import Answer, Citation

SECTION_LIMIT = 3000  # Slack's limit on a section's text
HELPFUL, NOT_HELPFUL, POST_TO_CHANNEL = "feedback_helpful", "feedback_not_helpful", "post_answer"


def escape(text: str) -> str:
    """Slack's three control characters; with them escaped, nothing is a link or mention."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def quote_block(quote: str) -> str:
    body = escape(" ".join(quote.split()))
    if len(body) > SECTION_LIMIT - 10:
        body = body[: SECTION_LIMIT - 11] + "…"
    return "> " + body


def citationcontext_block(citation: Citation) -> str:
    parts = [f"*{escape(_clip(citation.title, 300))}*"]
    if citation.date:
        parts.append(escape(citation.date))
    parts.append(f"{escape(_clip(citation.source, 1000))}, characters {citation.start}-{citation.end}")
    return " · ".join(parts)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def fallback_text(answer: Answer) -> str:
    """The notification / screen-reader text of the message."""
    plain = answer.abstained or answer.mode == "llm"
    return escape(answer.answer if plain else f"“{answer.citations[0].quote}”")[:SECTION_LIMIT]


def answer_blocks(answer: Answer, answer_id: str | None, *, ephemeral: bool = False) -> list[dict]:
    blocks: list[dict] = [context_block(f"_{escape(answer.note)}_")] if answer.note else []
    if answer.abstained:
        blocks.append(_section(escape(answer.answer)))
    elif answer.mode == "llm":  # the model's text, then each verified quote it cites as [n]
        blocks.append(_section(escape(_clip(answer.answer, SECTION_LIMIT))))
        for number, citation in enumerate(answer.citations, 1):
            blocks.append(_section(f"[{number}]\n" + quote_block(citation.quote)))
            blocks.append(context_block(citationcontext_block(citation)))
    else:
        for number, citation in enumerate(answer.citations[:3]):
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
    return [_section(escape(_clip(text, SECTION_LIMIT))), context_block("_Drafting; the quotes are being checked…_")]


def notice_blocks(text: str) -> list[dict]:
    return [_section(escape(text))]


def _section(text: str) -> dict:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def context_block(text: str) -> dict:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}


def _button(label: str, action_id: str, value: str, style: str | None = None) -> dict:
    button = {"type": "button", "text": {"type": "plain_text", "text": label}, "action_id": action_id, "value": value}
    if style:
        button["style"] = style
    return button
