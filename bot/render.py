"""Answers as text for a terminal."""

from __future__ import annotations

import shutil
import sys
import textwrap
from typing import TextIO

from retrieval.types import Answer, Citation


def citation_line(citation: Citation) -> str:
    when = f", {citation.date}" if citation.date else ""
    return f"{citation.title}{when} · {citation.source}, characters {citation.start}-{citation.end}"


def answer_text(answer: Answer) -> str:
    lines = [f"({answer.note})"] if answer.note else []
    if answer.abstained:
        return "\n".join([*lines, answer.answer])
    if answer.mode == "llm":
        lines.extend(textwrap.wrap(answer.answer, width=88))
        lines.append("Quotes (verified word for word against the documents):")
    for number, citation in enumerate(answer.citations, 1):
        if answer.mode == "llm":
            label = f"[{number}]"
        else:
            label = "Answer:" if number == 1 else f"Also relevant [{number}]:"
        lines.append(label)
        lines.extend(textwrap.wrap(citation.quote, width=88, initial_indent="  > ", subsequent_indent="  > "))
        lines.append(f"  — {citation_line(citation)}")
    return "\n".join(lines)


class TerminalDraft:
    """Shows an LLM answer's text as it streams, on stderr, then clears it (on a terminal)
    so that what stays on screen and on stdout is only the checked answer."""

    def __init__(self, stream: TextIO | None = None):
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.shown = ""

    def __call__(self, text: str) -> None:
        if text.startswith(self.shown):
            self.stream.write(text[len(self.shown):])
        else:  # renumbered citations changed earlier text: start the draft again
            self.clear()
            self.stream.write(text)
        self.shown = text
        self.stream.flush()

    def clear(self) -> None:
        if not self.shown:
            return
        if self.tty:
            width = max(20, shutil.get_terminal_size().columns)
            rows = sum(max(1, -(-len(line) // width)) for line in self.shown.split("\n"))
            self.stream.write(f"\r\x1b[{rows - 1}A\x1b[J" if rows > 1 else "\r\x1b[J")
        else:
            self.stream.write("\n")
        self.shown = ""
        self.stream.flush()
