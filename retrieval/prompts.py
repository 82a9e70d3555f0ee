"""The answer prompt: templates read from `prompts/`, passages fenced as data.

Passage text goes inside <passage> tags. A document containing "</passage>" could end its
own fence early and have the rest read as instructions, so that tag is defanged in the text
(the model sees "</ passage>"); quotes are verified against the original text, never this.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from langchain_core.documents import Document
from langchain_core.prompts import ChatPromptTemplate

from .injection import looks_like_injection
from .types import Turn

PROMPTS_DIR = Path(__file__).resolve().parents[1] / "prompts"
WITHHELD = "[sentence withheld: it reads as instructions to an AI]"
_CLOSING_TAG = re.compile(r"</(\s*)passage", re.IGNORECASE)


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
        dated = f' date="{meta["date"]}"' if meta.get("date") else ""
        title = str(meta.get("title", "")).replace('"', "'")
        text = _CLOSING_TAG.sub(r"</ \1passage", withhold_instructions(passage))
        blocks.append(f'<passage id="{passage_id(rank)}" title="{title}"{dated}>\n{text}\n</passage>')
    return "\n\n".join(blocks)


def withhold_instructions(passage: Document) -> str:
    """The passage's text with sentences that read as instructions to an AI replaced by a
    marker: the model cannot obey what it never reads."""
    text, offset = passage.page_content, passage.metadata["start"]
    for start, end in sorted(passage.metadata.get("sentences", ()), reverse=True):
        if looks_like_injection(text[start - offset : end - offset]):
            text = text[: start - offset] + WITHHELD + text[end - offset :]
    return text


def format_history(history: Sequence[Turn]) -> str:
    if not history:
        return ""
    earlier = "\n".join(f"- {turn.question}" for turn in history[-3:])
    return f"Earlier questions in this conversation (the new question may refer to them):\n{earlier}\n\n"


def prompt_values(question: str, passages: Sequence[Document], history: Sequence[Turn] = ()) -> dict:
    return {"question": question, "passages": format_passages(passages), "history": format_history(history)}
