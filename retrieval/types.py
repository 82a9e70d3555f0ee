"""Plain typed data shared by every step of the pipeline."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class Document:
    """A loaded file. Every offset elsewhere points into `text`."""

    source: str  # the path as it was ingested (normalised), e.g. "corpus/a.txt"
    text: str
    title: str
    date: str | None = None  # ISO date, when the document says
    # Where indexing starts: a leading "date YYYY-MM-DD" marker is metadata, not content.
    body_start: int = 0


@dataclass(frozen=True)
class Span:
    start: int
    end: int


@dataclass(frozen=True)
class Passage:
    """A retrieval unit: a window of whole sentences of one document."""

    id: str
    source: str
    title: str
    date: str | None
    start: int
    end: int
    text: str  # == document.text[start:end]
    sentences: tuple[Span, ...]  # absolute offsets of the sentences in this window
    doc_hash: str
    position: int  # index of the passage within its document


@dataclass(frozen=True)
class Citation:
    corpus: str
    source: str
    title: str
    date: str | None
    start: int
    end: int
    quote: str  # == document.text[start:end], always
    score: float


@dataclass(frozen=True)
class RetrievedPassage:
    source: str
    start: int
    end: int
    text: str
    score: float


@dataclass(frozen=True)
class Turn:
    """An earlier question in the same conversation and what was quoted for it."""

    question: str
    cited: tuple[tuple[str, int, int], ...] = ()  # (source, start, end)


@dataclass(frozen=True)
class DroppedQuote:
    """A quote a language model offered that failed verification; never shown as a quote."""

    passage: str  # the passage id the model cited, as it wrote it
    quote: str
    reason: str


@dataclass
class Answer:
    question: str
    answer: str  # extractive: the first quote; llm: the model's text, citing [1], [2]...
    abstained: bool
    citations: list[Citation] = field(default_factory=list)
    passages: list[RetrievedPassage] = field(default_factory=list)
    mode: str = "extractive"  # or "llm"
    dropped_quotes: list[DroppedQuote] = field(default_factory=list)
    note: str | None = None  # why an LLM answer fell back to the extractive one

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "Answer":
        return cls(
            question=data["question"],
            answer=data["answer"],
            abstained=data["abstained"],
            citations=[Citation(**c) for c in data["citations"]],
            passages=[RetrievedPassage(**p) for p in data["passages"]],
            mode=data.get("mode", "extractive"),
            dropped_quotes=[DroppedQuote(**d) for d in data.get("dropped_quotes", [])],
            note=data.get("note"),
        )
