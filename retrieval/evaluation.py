"""Quality measured, not asserted: quote accuracy, recall@5, abstention, latency.

Reads questions in the seed format (JSON lines: id, question, expect, answerable) or SQuAD
JSON (v1.1 or v2.0). Scoring follows SQuAD: normalise (lower case, no punctuation, no
articles, folded white space); a quote contains an answer when the normalised answer is a
substring of the normalised quote.
"""

from __future__ import annotations

import json
import re
import statistics
import string
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from .answer.quotes import MAX_QUOTE_CHARS  # a first citation longer than this is not a usable quote
from .ingest.loaders import load_file
from .types import Answer


@dataclass(frozen=True)
class Question:
    id: str
    question: str
    expect: tuple[str, ...]
    answerable: bool


def squad_normalise(text: str) -> str:
    text = text.lower()
    text = "".join(ch for ch in text if ch not in set(string.punctuation))
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def contains_answer(text: str, answers: Iterable[str]) -> bool:
    norm = squad_normalise(text)
    return any(squad_normalise(a) and squad_normalise(a) in norm for a in answers)


def load_questions(path: Path) -> list[Question]:
    raw = path.read_text(encoding="utf-8")
    if path.suffix.lower() == ".json":
        data = json.loads(raw)
        return [
            Question(
                qa["id"],
                qa["question"],
                tuple(a["text"] for a in qa.get("answers", [])),
                not qa.get("is_impossible", False),
            )
            for article in data["data"]
            for paragraph in article["paragraphs"]
            for qa in paragraph["qas"]
        ]
    questions = []
    for number, line in enumerate(raw.splitlines(), 1):
        if line.strip():
            item = json.loads(line)
            questions.append(
                Question(str(item.get("id", number)), item["question"], tuple(item.get("expect", [])),
                         bool(item.get("answerable", True)))
            )
    return questions


def evaluate(questions: list[Question], ask: Callable[[str], Answer], k: int = 5,
             on_result: Callable[[Question, Answer], None] | None = None) -> dict:
    latencies: list[float] = []
    answerable = unanswerable = quote_hits = recall_hits = false_abstain = abstain_ok = 0
    verbatim_checked = verbatim_ok = 0
    documents: dict[str, str] = {}
    for q in questions:
        started = time.perf_counter()
        answer = ask(q.question)
        latencies.append(time.perf_counter() - started)
        for citation in answer.citations:
            text = _document_text(citation.source, documents)
            if text is not None:
                verbatim_checked += 1
                verbatim_ok += text[citation.start : citation.end] == citation.quote
        if q.answerable:
            answerable += 1
            false_abstain += answer.abstained
            first = answer.citations[0].quote if answer.citations else ""
            quote_hits += bool(first) and len(first) <= MAX_QUOTE_CHARS and contains_answer(first, q.expect)
            recall_hits += any(contains_answer(p.text, q.expect) for p in answer.passages[:k])
        else:
            unanswerable += 1
            abstain_ok += answer.abstained
        if on_result:
            on_result(q, answer)
    ms = sorted(x * 1000 for x in latencies)
    return {
        "questions": len(questions),
        "answerable": answerable,
        "unanswerable": unanswerable,
        "quote_accuracy": _ratio(quote_hits, answerable),
        f"recall@{k}": _ratio(recall_hits, answerable),
        "false_abstention": _ratio(false_abstain, answerable),
        "abstention_unanswerable": _ratio(abstain_ok, unanswerable),
        "verbatim": f"{verbatim_ok}/{verbatim_checked}",
        "latency_ms_p50": round(statistics.median(ms), 1) if ms else None,
        "latency_ms_p95": round(ms[min(len(ms) - 1, int(0.95 * len(ms)))], 1) if ms else None,
    }


def _ratio(hits: int, total: int) -> float | None:
    return round(hits / total, 4) if total else None


def _document_text(source: str, cache: dict[str, str | None]) -> str | None:
    """The cited document as it is on disk now, to check quotes are verbatim."""
    if source not in cache:
        path = Path(source.split("#", 1)[0])
        try:
            for document in load_file(path):
                cache[document.source] = document.text
        except Exception:  # the file moved or changed: it cannot be checked, not a failure
            pass
        cache.setdefault(source, None)
    return cache[source]
