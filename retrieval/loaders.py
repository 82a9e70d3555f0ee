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
# "# Title" on one line. No backtracking: the former pattern, ^#\s+(.+?)\s*#*\s*$, took
# cubic time on a heading line holding a long run of spaces (12 s for 2,000 of them).
MARKDOWN_HEADING = re.compile(r"^#[ \t]+(\S[^\n]*)", re.MULTILINE)
# A lone UTF-16 surrogate (from a JSON escape such as "\ud800") cannot be encoded as UTF-8,
# so it would crash the splitter and the store; it is read as U+FFFD (same length).
LONE_SURROGATE = re.compile("[\ud800-\udfff]")


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
    unique: dict[str, Path] = {}
    for file in files:  # a file named twice (or by two spellings) is ingested once
        # realpath, not Path.resolve(): resolve() raises on a symlink loop, which stopped the
        # whole ingest; such a link is now skipped when read ("cannot read file").
        unique.setdefault(os.path.realpath(file), file)
    return list(unique.values())


def load_paths(paths: Iterable[str | os.PathLike]) -> Iterator[Document | Skipped]:
    for path in expand_paths(paths):
        try:
            yield from load_file(path)
        except LoadError as exc:
            # A name that is not UTF-8 is shown with U+FFFD, so the report can be printed.
            name = str(path).encode("utf-8", "surrogateescape").decode("utf-8", "replace")
            yield Skipped(name, str(exc))


def load_file(path: Path) -> list[Document]:
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise LoadError(f"unsupported file type '{suffix or path.name}'")
    source = str(path)
    if LONE_SURROGATE.search(source):  # the OS gave bytes that are not UTF-8 (surrogateescape)
        raise LoadError("the file name is not valid UTF-8; rename the file")
    if path.exists() and not path.is_file():  # a FIFO or device (e.g. a link to /dev/zero) never ends
        raise LoadError("not a regular file")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise LoadError(f"cannot read file: {exc.strerror or exc}") from exc
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
            title = _markdown_title(text) if suffix in {".md", ".markdown"} else None
    date, body_start = None, 0
    marker = DATE_MARKER.match(text)
    if marker:
        date, body_start = marker.group(1), marker.end()
    return [
        Document(
            source=source,
            text=_valid_unicode(text),
            title=meta.get("title") or _valid_unicode(title or "").strip() or _title_from_name(path),
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
    except (OSError, ValueError, RecursionError) as exc:  # RecursionError: "[[[[..." nested too deep
        raise LoadError(f"unreadable metadata file {sidecar.name}: {exc}") from exc
    if not isinstance(meta, dict):
        raise LoadError(f"metadata file {sidecar.name} must hold a JSON object")
    meta = {k: _valid_unicode(str(v)).strip() for k, v in meta.items() if k in {"title", "date"} and v}
    meta = {k: v for k, v in meta.items() if v}  # a blank title is no title
    if "date" in meta and not ISO_DATE.fullmatch(meta["date"]):
        raise LoadError(f"metadata file {sidecar.name}: date must be YYYY-MM-DD, not '{meta['date'][:40]}'")
    return meta


def _valid_unicode(text: str) -> str:
    return LONE_SURROGATE.sub("\ufffd", text)


def _markdown_title(text: str) -> str | None:
    """The first "# Title" line, without trailing spaces or a closing "#" sequence."""
    heading = MARKDOWN_HEADING.search(text)
    if not heading:
        return None
    title = heading.group(1).rstrip()
    return title.rstrip("#").rstrip() or title


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
    except Exception as exc:
        # pypdf also fails on damaged files with AssertionError, AttributeError, OverflowError,
        # IndexError, RecursionError... (found by fuzzing): still one unreadable file, not a crash.
        raise LoadError(f"unreadable PDF ({type(exc).__name__}: {exc})") from exc
    return "\n\n".join(p.strip() for p in pages if p.strip()), (str(title) if title else None)


def _squad_documents(raw: str, source: str) -> list[Document]:
    """A SQuAD-format data set: one document per article, paragraphs separated by blank lines."""
    documents: list[Document] = []
    seen: set[str] = set()
    try:
        for article in json.loads(raw)["data"]:
            name = _valid_unicode(str(article["title"]))
            anchor, n = name, 1
            while anchor in seen:  # two articles with one title stay two documents
                n += 1
                anchor = f"{name}-{n}"
            seen.add(anchor)
            documents.append(Document(
                source=f"{source}#{anchor}",
                # Found by fuzzing: an untitled article made an untitled document, and a citation
                # of it had no name to show.
                title=name.replace("_", " ").strip() or f"{_title_from_name(Path(source))} {len(documents) + 1}",
                text=_valid_unicode("\n\n".join(str(p["context"]).strip() for p in article["paragraphs"])),
            ))
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:  # RecursionError: nested too deep
        raise LoadError("JSON file is not a SQuAD-format data set") from exc
    if not documents:
        raise LoadError("SQuAD file holds no articles")
    return documents
