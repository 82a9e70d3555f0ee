"""Answers as text for a terminal."""

from __future__ import annotations

import textwrap

from retrieval.types import Answer, Citation


def citation_line(citation: Citation) -> str:
    when = f", {citation.date}" if citation.date else ""
    return f"{citation.title}{when} · {citation.source}, characters {citation.start}-{citation.end}"


def answer_text(answer: Answer) -> str:
    if answer.abstained:
        return answer.answer
    lines: list[str] = []
    for number, citation in enumerate(answer.citations, 1):
        label = "Answer" if number == 1 else f"Also relevant [{number}]"
        lines.append(f"{label}:")
        lines.extend(textwrap.wrap(citation.quote, width=88, initial_indent="  > ", subsequent_indent="  > "))
        lines.append(f"  — {citation_line(citation)}")
    return "\n".join(lines)
