"""path -> Document, for .txt .md .html .pdf (and SQuAD-format .json data sets).

Files that cannot be read become `Skipped` entries with a reason, so one bad file never
stops an ingest. A path that does not exist at all is a usage error, raised up front.

What is read (ReadRules), as ripgrep and git do: a path the user named is read even when it
is a symbolic link, but inside a folder a link is not followed; with `follow_symlinks` it is
followed only when its target stays inside that folder. A skipped link is a `Skipped` with
the reason. Every file is checked before it is opened (size, type, an extra `may_read`
check such as the hand-over's caller rules) and checked again on the open descriptor, so a
file swapped for a link meanwhile is not read either.
"""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ..errors import UsageError
from ..injection import shown_title, unfit_title
from ..types import Document

TEXT_SUFFIXES = {".txt", ".text", ".md", ".markdown"}
HTML_SUFFIXES = {".html", ".htm"}
SUPPORTED_SUFFIXES = TEXT_SUFFIXES | HTML_SUFFIXES | {".pdf", ".json"}
SIDECAR_SUFFIX = ".meta.json"  # "a.txt.meta.json" carries metadata for "a.txt"
MB = 1024 * 1024

LINK_NOT_FOLLOWED = "symbolic link, not followed (--follow-symlinks follows links that stay inside the folder)"
LINK_OUTSIDE = "symbolic link to {target}, outside the folder ingested: not followed"
LINK_DANGLING = "symbolic link to nothing (its target does not exist)"
LINK_LOOP = "symbolic link loop"

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


class Refused(LoadError):
    """The rules forbid reading this file (see Skipped.refused)."""


@dataclass(frozen=True)
class Skipped:
    source: str
    reason: str
    # Refused by the rules (a link not followed, a file the caller may not read), not merely
    # unreadable: what the index holds under this name goes (ingest.py).
    refused: bool = False


@dataclass(frozen=True)
class ReadRules:
    """What an ingest may read besides the paths it was given."""

    follow_symlinks: bool = False  # inside a folder: follow links whose target stays inside it
    max_bytes: int | None = None  # larger files are skipped before they are opened
    # An extra check on each file and folder before it is opened: why it may not be read, or
    # None. The hand-over uses it for the rules of the user who asked (bot/handoff.py).
    may_read: Callable[[Path, bool], str | None] | None = None

    @classmethod
    def from_megabytes(cls, max_file_mb: float | None, **rules) -> "ReadRules":
        return cls(max_bytes=None if max_file_mb is None else int(max_file_mb * MB), **rules)

    def refusal(self, path: Path, folder: bool = False) -> str | None:
        return self.may_read(path, folder) if self.may_read is not None else None


@dataclass(frozen=True)
class Found:
    """A file to load: its name (the document's source) and the (device, inode) it had when
    found, which the file opened must still have."""

    path: Path
    identity: tuple[int, int] | None = None
    follow: bool = True  # whether opening may follow a link (a named path, or a link allowed in)


def expand_paths(paths: Iterable[str | os.PathLike], rules: ReadRules = ReadRules()) -> list[Path | Skipped]:
    """Files to ingest, in a stable order (folders walked recursively), and the links and
    folders skipped on the way. Raises UsageError when a path does not exist, before
    anything is read."""
    return [item.path if isinstance(item, Found) else item for item in _expand(paths, rules)]


def _expand(paths: Iterable[str | os.PathLike], rules: ReadRules) -> list[Found | Skipped]:
    paths = list(paths)
    missing = [str(p) for p in paths if not os.path.exists(p)]
    if missing:
        raise UsageError(f"no such file or folder: {', '.join(missing)}")
    found: list[Found | Skipped] = []
    for raw in paths:
        path = Path(os.path.normpath(raw))
        if path.is_dir():  # named, so walked even when it is a link
            found.extend(_walk(path, os.path.realpath(path), rules))
        else:
            found.append(Found(path))
    unique: dict[str, Found | Skipped] = {}
    for item in found:  # a file named twice (or by two spellings) is ingested once
        # realpath, not Path.resolve(): resolve() raises on a symlink loop.
        key = os.path.realpath(item.path) if isinstance(item, Found) else f"\0{item.source}"
        unique.setdefault(key, item)
    return list(unique.values())


def _walk(top: Path, real_top: str, rules: ReadRules) -> Iterator[Found | Skipped]:
    """The files under folder `top` (whose real path is `real_top`), in name order."""
    walked: set[tuple[int, int]] = set()  # folders already listed: a followed link may lead back

    def folder(path: Path) -> Iterator[Found | Skipped]:
        info = os.stat(path)
        if (info.st_dev, info.st_ino) in walked:
            return
        walked.add((info.st_dev, info.st_ino))
        refused = rules.refusal(path, True)
        if refused:
            yield Skipped(_name(path), refused, refused=True)
            return
        try:
            entries = sorted(os.scandir(path), key=lambda e: e.name)
        except OSError as exc:
            yield Skipped(_name(path), f"cannot read folder: {exc.strerror or exc}")
            return
        for entry in entries:
            if entry.name.startswith("."):
                continue
            child = path / entry.name
            if entry.is_symlink():
                target = _link_target(child, real_top, rules)
                if isinstance(target, Skipped):
                    yield target
                elif stat.S_ISDIR(target.st_mode):
                    yield from folder(child)
                elif not entry.name.endswith(SIDECAR_SUFFIX):
                    yield Found(child, (target.st_dev, target.st_ino), follow=True)
            elif entry.is_dir(follow_symlinks=False):
                yield from folder(child)
            elif not entry.name.endswith(SIDECAR_SUFFIX):
                try:
                    info = entry.stat(follow_symlinks=False)
                except OSError as exc:
                    yield Skipped(_name(child), f"cannot read file: {exc.strerror or exc}")
                    continue
                yield Found(child, (info.st_dev, info.st_ino), follow=False)

    yield from folder(top)


def _link_target(link: Path, real_top: str, rules: ReadRules) -> os.stat_result | Skipped:
    """The stat of what `link` (inside the folder whose real path is `real_top`) points to,
    when it may be followed; otherwise why not. Only the link's path is looked at: a target
    outside the folder is never opened."""
    if not rules.follow_symlinks:
        return Skipped(_name(link), LINK_NOT_FOLLOWED, refused=True)
    real = os.path.realpath(link)
    if os.path.commonpath([real, real_top]) != real_top:
        return Skipped(_name(link), LINK_OUTSIDE.format(target=_name(Path(real))), refused=True)
    try:
        return os.stat(link)
    except OSError as exc:
        import errno

        if exc.errno == errno.ELOOP:
            return Skipped(_name(link), LINK_LOOP)
        if exc.errno == errno.ENOENT:
            return Skipped(_name(link), LINK_DANGLING)
        return Skipped(_name(link), f"cannot read link: {exc.strerror or exc}")


def _name(path: Path) -> str:
    """A name that can be printed: bytes that are not UTF-8 are shown as U+FFFD."""
    return str(path).encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def load_paths(paths: Iterable[str | os.PathLike], rules: ReadRules = ReadRules()) -> Iterator[Document | Skipped]:
    for item in _expand(paths, rules):
        if isinstance(item, Skipped):
            yield item
            continue
        try:
            yield from load_file(item.path, rules, identity=item.identity, follow=item.follow)
        except LoadError as exc:
            yield Skipped(_name(item.path), str(exc), refused=isinstance(exc, Refused))


def read_bounded(path: Path, rules: ReadRules = ReadRules(), identity: tuple[int, int] | None = None,
                 follow: bool = True) -> bytes:
    """The bytes of the regular file `path`, checked before it is opened and again on the open
    descriptor: never a FIFO or device, never larger than `rules.max_bytes`, never a file
    other than `identity` (found earlier), and without `follow`, never through a link."""
    refused = rules.refusal(path)
    if refused:
        raise Refused(refused)
    try:
        info = os.stat(path) if follow else os.lstat(path)
        if stat.S_ISLNK(info.st_mode):
            raise Refused(LINK_NOT_FOLLOWED)
        _check(info, rules, identity)  # before opening: a FIFO would block, a device never end
        flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0) | (0 if follow else os.O_NOFOLLOW)
        fd = os.open(path, flags)
    except OSError as exc:
        raise LoadError(f"cannot read file: {exc.strerror or exc}") from exc
    try:
        _check(os.fstat(fd), rules, identity)  # the file opened, which may have been swapped since
        limit = rules.max_bytes
        chunks, size = [], 0
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
            size += len(chunk)
            if limit is not None and size > limit:  # it grew while being read
                raise LoadError(_too_large(size, limit))
        return b"".join(chunks)
    except OSError as exc:
        raise LoadError(f"cannot read file: {exc.strerror or exc}") from exc
    finally:
        os.close(fd)


def _check(info: os.stat_result, rules: ReadRules, identity: tuple[int, int] | None) -> None:
    if not stat.S_ISREG(info.st_mode):  # a FIFO or device (e.g. a link to /dev/zero) never ends
        raise LoadError("not a regular file")
    if identity is not None and (info.st_dev, info.st_ino) != identity:
        raise Refused("changed while being ingested (replaced by a link?); not read")
    if rules.max_bytes is not None and info.st_size > rules.max_bytes:
        raise LoadError(_too_large(info.st_size, rules.max_bytes))


def _too_large(size: int, limit: int) -> str:
    return f"larger than QA_MAX_FILE_MB ({size / MB:.1f} MB, the limit is {limit / MB:g} MB); not read"


def load_file(path: Path, rules: ReadRules = ReadRules(), identity: tuple[int, int] | None = None,
              follow: bool = True) -> list[Document]:
    """The documents of one file (see read_bounded for what is checked before it is read)."""
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise LoadError(f"unsupported file type '{suffix or path.name}'")
    source = str(path)
    if LONE_SURROGATE.search(source):  # the OS gave bytes that are not UTF-8 (surrogateescape)
        raise LoadError("the file name is not valid UTF-8; rename the file")
    data = read_bounded(path, rules, identity, follow)
    meta = _sidecar(path, rules)
    if suffix == ".pdf":
        text, title = _pdf_text(data, rules.max_bytes)
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
            # A title that reads as an instruction or would render as a link is shown as the file
            # name, here, so that every renderer and the prompt get the same safe title.
            title=shown_title(meta.get("title") or _valid_unicode(title or "").strip() or _title_from_name(path), source),
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


def _sidecar(path: Path, rules: ReadRules) -> dict:
    sidecar = path.with_name(path.name + SIDECAR_SUFFIX)
    if not os.path.lexists(sidecar):
        return {}
    if os.path.islink(sidecar):  # metadata has no reason to live elsewhere: never followed
        raise Refused(f"metadata file {sidecar.name} is a symbolic link; such links are not followed")
    try:
        meta = json.loads(read_bounded(sidecar, rules, follow=False).decode("utf-8"))
    except LoadError as exc:
        raise type(exc)(f"unreadable metadata file {sidecar.name}: {exc}") from exc
    except (ValueError, RecursionError) as exc:  # RecursionError: "[[[[..." nested too deep
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


def _pdf_text(data: bytes, max_chars: int | None = None) -> tuple[str, str | None]:
    """The text of every page, stopping as soon as it exceeds `max_chars`: a small PDF can
    inflate to far more text than its size (compressed page streams)."""
    import io

    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data))
        pages, size = [], 0
        for page in reader.pages:
            pages.append(page.extract_text() or "")
            size += len(pages[-1])
            if max_chars is not None and size > max_chars:
                raise LoadError(f"its text is larger than QA_MAX_FILE_MB (more than {max_chars / MB:g} MB by page "
                                f"{len(pages)}); not read further")
        title = (reader.metadata or {}).get("/Title") if reader.metadata else None
    except LoadError:
        raise
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
            if unfit_title(name):  # it names the document (its source) too: treated as untitled
                name = ""
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
