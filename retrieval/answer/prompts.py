"""The answer prompt: templates read from `prompts/`, passages fenced as data.

Each passage goes inside <passage> tags, its document's title and date on the first line
inside the fence with the text: all of it is document data. A document containing
"</passage>" could end its own fence early and have the rest read as instructions, so that
tag is defanged in the text (the model sees "</ passage>"); quotes are verified against the
original text, never this. A title goes through the same instruction check as the text
(injection.shown_title): one that fails is given as the file name.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from langchain_core.documents import Document
from langchain_core.prompts import ChatPromptTemplate

from ..injection import looks_like_injection, shown_title
from ..search.retriever import passage_sentences
from ..types import Turn

PROMPTS_DIR = Path(__file__).resolve().parents[2] / "prompts"
WITHHELD = "[sentence withheld: it reads as instructions to an AI]"
_CLOSING_TAG = re.compile(r"</(\s*)passage", re.IGNORECASE)
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def answer_prompt(directory: Path = PROMPTS_DIR) -> ChatPromptTemplate:
    """System and user templates from `answer_system.txt` and `answer_user.txt`."""
    return ChatPromptTemplate.from_messages([
        ("system", (directory / "answer_system.txt").read_text(encoding="utf-8")),
        ("human", (directory / "answer_user.txt").read_text(encoding="utf-8")),
    ])


def passage_id(rank: int) -> str:
    return f"P{rank + 1}"


def format_passages(passages: Sequence[Document]) -> str:
    blocks = []
    for rank, passage in enumerate(passages):
        meta = passage.metadata
        title = shown_title(meta.get("title", ""), str(meta.get("source", "")))
        date = str(meta.get("date") or "")
        about = f"Title: {title}" + (f" | Date: {date}" if _ISO_DATE.fullmatch(date) else "")  # a date, or nothing
        text = _defang(withhold_instructions(passage))
        blocks.append(f'<passage id="{passage_id(rank)}">\n{_defang(about)}\n{text}\n</passage>')
    return "\n\n".join(blocks)


def _defang(text: str) -> str:
    return _CLOSING_TAG.sub(r"</ \1passage", text)


def withhold_instructions(passage: Document) -> str:
    """The passage's text with sentences that read as instructions to an AI replaced by a
    marker: the model cannot obey what it never reads."""
    text, offset = passage.page_content, passage.metadata["start"]
    for (start, end), sentence in sorted(passage_sentences(passage), reverse=True):
        if looks_like_injection(sentence):
            text = text[: start - offset] + WITHHELD + text[end - offset :]
    return text


def format_history(history: Sequence[Turn]) -> str:
    if not history:
        return ""
    earlier = "\n".join(f"- {turn.question}" for turn in history[-3:])
    return f"Earlier questions in this conversation (the new question may refer to them):\n{earlier}\n\n"


def prompt_values(question: str, passages: Sequence[Document], history: Sequence[Turn] = ()) -> dict:
    return {"question": question, "passages": format_passages(passages), "history": format_history(history)}
