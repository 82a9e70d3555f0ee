"""path -> Document, for .txt .md .html .pdf (and SQuAD-format .json data sets).

Files that cannot be read become `Skipped` entries with a reason, so one bad file never
stops an ingest. A path that does not exist at all is a usage error, raised up front.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from .errors import UsageError
from .types import Document

TEXT_SUFFIXES = {".txt", ".text", ".md", ".markdown"}
HTML_SUFFIXES = {".html", ".htm"}
SUPPORTED_SUFFIXES = TEXT_SUFFIXES | HTML_SUFFIXES | {".pdf", ".json"}
SIDECAR_SUFFIX = ".meta.json"  # "a.txt.meta.json" carries metadata for "a.txt"

# The seed corpus opens with "date YYYY-MM-DD": the document's date, not its content.
DATE_MARKER = re.compile(r"\A\s*date\s+(\d{4}-\d{2}-\d{2})\b[ \t]*")
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
MARKDOWN_TITLE = re.compile(r"^#\s+(.+?)\s*#*\s*$", re.MULTILINE)


class LoadError(Exception):
    """This file cannot be ingested; the message says why."""


@dataclass(frozen=True)
class Skipped:
    source: str
    reason: str


def expand_paths(paths: Iterable[str | os.PathLike]) -> list[Path]:
    """Files to ingest, in a stable order; folders are walked recursively.

    Raises UsageError when a path does not exist, before anything is read.
    """
    missing = [str(p) for p in paths if not os.path.exists(p)]
    if missing:
        raise UsageError(f"no such file or folder: {', '.join(missing)}")
    files: list[Path] = []
    for raw in paths:
        path = Path(os.path.normpath(raw))
        if path.is_dir():
            for root, dirs, names in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                files.extend(
                    Path(root) / n
                    for n in sorted(names)
                    if not n.startswith(".") and not n.endswith(SIDECAR_SUFFIX)
                )
        else:
            files.append(path)
    unique: dict[Path, Path] = {}
    for file in files:  # a file named twice (or by two spellings) is ingested once
        unique.setdefault(file.resolve(), file)
    return list(unique.values())


def load_paths(paths: Iterable[str | os.PathLike]) -> Iterator[Document | Skipped]:
    for path in expand_paths(paths):
        try:
            yield from load_file(path)
        except LoadError as exc:
            yield Skipped(str(path), str(exc))


def load_file(path: Path) -> list[Document]:
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise LoadError(f"unsupported file type '{suffix or path.name}'")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise LoadError(f"cannot read file: {exc.strerror or exc}") from exc
    source = str(path)
    meta = _sidecar(path)
    if suffix == ".pdf":
        text, title = _pdf_text(data)
    else:
        raw = _decode(data)
        if suffix == ".json":
            return _squad_documents(raw, source)
        if suffix in HTML_SUFFIXES:
            text, title = _html_text(raw)
        else:
            text = raw
            heading = MARKDOWN_TITLE.search(text) if suffix in {".md", ".markdown"} else None
            title = heading.group(1) if heading else None
    date, body_start = None, 0
    marker = DATE_MARKER.match(text)
    if marker:
        date, body_start = marker.group(1), marker.end()
    return [
        Document(
            source=source,
            text=text,
            title=meta.get("title") or title or _title_from_name(path),
            date=meta.get("date") or date,
            body_start=body_start,
        )
    ]


def _decode(data: bytes) -> str:
    if b"\x00" in data[:8192]:
        raise LoadError("binary file, not text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise LoadError(f"not UTF-8 text (byte {exc.start}); convert it to UTF-8") from exc


def _sidecar(path: Path) -> dict:
    sidecar = path.with_name(path.name + SIDECAR_SUFFIX)
    if not sidecar.is_file():
        return {}
    try:
        meta = json.loads(sidecar.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise LoadError(f"unreadable metadata file {sidecar.name}: {exc}") from exc
    if not isinstance(meta, dict):
        raise LoadError(f"metadata file {sidecar.name} must hold a JSON object")
    meta = {k: str(v) for k, v in meta.items() if k in {"title", "date"} and v}
    if "date" in meta and not ISO_DATE.fullmatch(meta["date"]):
        raise LoadError(f"metadata file {sidecar.name}: date must be YYYY-MM-DD, not '{meta['date'][:40]}'")
    return meta


def _title_from_name(path: Path) -> str:
    return re.sub(r"[-_]+", " ", path.stem).strip() or path.name


def _html_text(raw: str) -> tuple[str, str | None]:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(raw, "html.parser")
    for tag in soup(["script", "style", "noscript", "template"]):
        tag.decompose()
    title = soup.title.get_text(" ", strip=True) if soup.title else None
    if soup.title:
        soup.title.decompose()
    lines = (line.strip() for line in soup.get_text("\n").splitlines())
    return "\n\n".join(line for line in lines if line), title


def _pdf_text(data: bytes) -> tuple[str, str | None]:
    import io

    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data))
        pages = [page.extract_text() or "" for page in reader.pages]
        title = (reader.metadata or {}).get("/Title") if reader.metadata else None
    except (PyPdfError, ValueError, KeyError, TypeError, OSError) as exc:
        raise LoadError(f"unreadable PDF: {exc}") from exc
    return "\n\n".join(p.strip() for p in pages if p.strip()), (str(title) if title else None)


def _squad_documents(raw: str, source: str) -> list[Document]:
    """A SQuAD-format data set: one document per article, paragraphs separated by blank lines."""
    documents: list[Document] = []
    seen: set[str] = set()
    try:
        for article in json.loads(raw)["data"]:
            name = str(article["title"])
            anchor, n = name, 1
            while anchor in seen:  # two articles with one title stay two documents
                n += 1
                anchor = f"{name}-{n}"
            seen.add(anchor)
            documents.append(Document(
                source=f"{source}#{anchor}",
                title=name.replace("_", " "),
                text="\n\n".join(str(p["context"]).strip() for p in article["paragraphs"]),
            ))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise LoadError("JSON file is not a SQuAD-format data set") from exc
    if not documents:
        raise LoadError("SQuAD file holds no articles")
    return documents
