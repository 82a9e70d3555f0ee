"""Loading hostile files: whatever the bytes, a file comes back as Documents or as one Skipped
entry with a reason, never as an exception; and a readable file loses none of its text."""

from __future__ import annotations

import json
import os
import re
import tempfile
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from retrieval.ingest.loaders import LINK_LOOP, LINK_NOT_FOLLOWED, ReadRules, Skipped, load_paths
from retrieval.ingest.splitting import split
from retrieval.injection import unfit_title
from retrieval.types import Document
from tests.helpers import minimal_pdf, paths_opened
from tests.support import hostile

ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
EXAMPLES = settings(max_examples=120, deadline=None)

# The inputs, named so that tests/fuzz.py can draw many more of them.
any_file = st.sampled_from(hostile.ALL_SUFFIXES).flatmap(lambda suffix: st.tuples(st.just(f"f{suffix}"),
                                                                                  hostile.file_bytes(suffix)))
text_suffixes = st.sampled_from(hostile.TEXT_SUFFIXES)
words = st.lists(st.text(alphabet="abcdefghijklmnopqrstuvwxyzé中", min_size=1, max_size=10), min_size=1, max_size=8)
html_paragraphs = st.lists(words.map(" ".join), min_size=1, max_size=6)
html_tags = st.lists(st.sampled_from(["div", "p", "span", "b", "li", "td", "section"]), min_size=1, max_size=3)
html_depths = st.sampled_from([1, 3, 200, 5000])
pdf_lines = st.lists(st.text(alphabet="abcdefghij ", min_size=1, max_size=40).map(str.strip).filter(bool),
                     min_size=1, max_size=4)
pdf_cuts = st.integers(0, 2000)
squad_articles = st.lists(st.tuples(st.text(max_size=10), st.lists(
    hostile.hostile_text | st.sampled_from(["\ud800 half a pair", "ok \udfff"]), max_size=4)), min_size=1, max_size=4)
folders = st.lists(st.tuples(st.sampled_from(hostile.ALL_SUFFIXES), st.booleans()), min_size=1, max_size=6)


def load_one(name: str, data: bytes, sidecar: bytes | None = None) -> list:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        path.write_bytes(data)
        if sidecar is not None:
            path.with_name(name + ".meta.json").write_bytes(sidecar)
        return list(load_paths([path]))


def assert_well_formed(items: list, name: str) -> None:
    """One Skipped with a reason, or Documents whose fields hold what they promise."""
    assert items, "a file must come back as something"
    if any(isinstance(item, Skipped) for item in items):
        [skipped] = items
        assert skipped.source.endswith(name) and skipped.reason.strip()
        return
    for doc in items:
        assert isinstance(doc, Document)
        assert doc.source.endswith(name) or f"{name}#" in doc.source
        doc.text.encode("utf-8")  # no lone surrogates: the splitter and the store need valid UTF-8
        doc.title.encode("utf-8")
        assert doc.title.strip()
        assert doc.date is None or ISO_DATE.fullmatch(doc.date)
        assert 0 <= doc.body_start <= len(doc.text)


@EXAMPLES
@given(file=any_file)
def test_any_bytes_under_any_name_load_or_are_skipped_with_a_reason(file):
    name, content = file
    items = load_one(name, content)
    assert_well_formed(items, name)
    for doc in items:  # and whatever loaded can be split, with exact offsets
        if isinstance(doc, Document):
            assert all(p.text == doc.text[p.start : p.end] for p in split(doc, 600))


@EXAMPLES
@given(content=hostile.text_bytes, suffix=text_suffixes)
def test_a_text_file_is_its_text_exactly_or_is_skipped_as_not_utf8(content, suffix):
    [item] = load_one(f"f{suffix}", content)
    try:
        expected = None if b"\x00" in content[:8192] else content.decode("utf-8-sig")
    except UnicodeDecodeError:
        expected = None
    if expected is None:
        assert isinstance(item, Skipped) and ("UTF-8" in item.reason or "binary" in item.reason)
    else:
        assert item.text == expected  # every character kept, so every offset points into the file as is


@settings(max_examples=30, deadline=None)
@given(paragraphs=html_paragraphs, tags=html_tags, depth=html_depths)
def test_html_text_survives_deep_nesting(paragraphs, tags, depth):
    html = "".join(f"<{tags[i % len(tags)]}>" * depth + f"<p>{p}</p>" + f"</{tags[i % len(tags)]}>" * depth
                   for i, p in enumerate(paragraphs))
    [doc] = load_one("page.html", f"<html><head><script>var lost = 1;</script></head><body>{html}</body>".encode())
    for paragraph in paragraphs:
        assert paragraph in doc.text
    assert "lost" not in doc.text


@settings(max_examples=40, deadline=None)
@given(lines=pdf_lines, cut=pdf_cuts)
def test_a_pdf_loads_whole_or_truncated_is_skipped(lines, cut):
    data = minimal_pdf(lines)
    [whole] = load_one("doc.pdf", data)
    for line in lines:
        assert line in whole.text
    [part] = load_one("doc.pdf", data[:cut])
    assert isinstance(part, Skipped) or all(line in part.text for line in lines)


def sidecar_is_valid(sidecar: bytes) -> bool:
    """What README's metadata files may hold, read without the loader: UTF-8 JSON holding an
    object whose date, when it has one, reads YYYY-MM-DD."""
    try:
        meta = json.loads(sidecar.decode("utf-8"))
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        return False
    if not isinstance(meta, dict):
        return False
    date = str(meta["date"]).strip() if meta.get("date") else ""
    return not date or re.fullmatch(r"\d{4}-\d{2}-\d{2}", date) is not None


@EXAMPLES
@given(sidecar=hostile.sidecar_bytes)
def test_a_bad_sidecar_skips_its_file_with_a_reason_naming_the_sidecar(sidecar):
    [item] = load_one("a.txt", b"Some text.", sidecar)
    assert isinstance(item, Skipped) == (not sidecar_is_valid(sidecar))
    if isinstance(item, Skipped):
        assert "a.txt.meta.json" in item.reason
        return
    assert item.text == "Some text."
    meta = json.loads(sidecar)
    if isinstance(meta.get("title"), str) and meta["title"].strip():
        title = " ".join(re.sub("[\ud800-\udfff]", "\ufffd", meta["title"]).split())  # shown on one line
        assert item.title == title or (unfit_title(title) and item.title == "a.txt")


@EXAMPLES
@given(articles=squad_articles)
def test_a_squad_file_gives_every_article_with_all_its_paragraphs(articles):
    data = {"data": [{"title": t, "paragraphs": [{"context": c} for c in cs]} for t, cs in articles]}
    docs = load_one("set.json", json.dumps(data).encode())
    assert len(docs) == len(articles) and len({d.source for d in docs}) == len(articles)
    for doc, (_, cs) in zip(docs, articles):
        expected = "\n\n".join(c.strip() for c in cs)
        assert doc.text == re.sub("[\ud800-\udfff]", "\ufffd", expected)  # a lone surrogate is read as U+FFFD


@settings(max_examples=30, deadline=None)
@given(files=folders, data=st.data())
def test_one_bad_file_never_hides_another(files, data):
    with tempfile.TemporaryDirectory() as folder:
        good: dict[str, str] = {}
        names = []
        for i, (suffix, is_good) in enumerate(files):
            path = Path(folder) / f"f{i}{suffix}"
            names.append(str(path))
            if is_good and suffix in hostile.TEXT_SUFFIXES:
                text = data.draw(hostile.hostile_text).replace("\x00", "")  # NUL makes it a binary file
                path.write_text(text, encoding="utf-8")
                good[str(path)] = text.removeprefix("\ufeff")  # a leading BOM marks the encoding, it is not text
            else:
                path.write_bytes(data.draw(hostile.file_bytes(suffix)))
        items = list(load_paths([folder]))
    assert sorted({item.source.split("#")[0] for item in items}) == sorted(names)  # every file accounted for
    for item in items:
        if item.source in good:
            assert item.text == good[item.source]


def test_special_files_are_skipped_with_a_reason(tmp_path):
    (tmp_path / "loop.txt").symlink_to(tmp_path / "loop.txt")
    (tmp_path / "zero.txt").symlink_to("/dev/zero")  # would be read forever
    os.mkfifo(tmp_path / "pipe.txt")  # would block forever
    os.close(os.open(os.fsencode(tmp_path) + b"/caf\xe9.txt", os.O_CREAT | os.O_WRONLY))  # a Latin-1 file name
    (tmp_path / "ok.txt").write_text("Still loaded.")
    items = {Path(item.source).name: item for item in load_paths([tmp_path], ReadRules(follow_symlinks=True))}
    assert items.pop("ok.txt").text == "Still loaded."
    assert items.pop("loop.txt").reason == LINK_LOOP
    assert "outside the folder" in items.pop("zero.txt").reason
    assert "not a regular file" in items.pop("pipe.txt").reason
    [(name, skipped)] = items.items()
    assert name == "caf\ufffd.txt" and "not valid UTF-8" in skipped.reason
    [zero] = load_paths([tmp_path / "zero.txt"])  # named, so followed: to a device, which is never read
    assert "not a regular file" in zero.reason


@pytest.mark.parametrize("name, content", [
    ("heading.md", "# a" + " " * 1_000_000 + "b\n\nText."),  # took hours before: the title regex backtracked
    ("closing.md", "# a" + "#" * 1_000_000 + "b\n"),
    ("wide.txt", "word " * 400_000),
    ("deep.html", "<div>" * 50_000 + "deep text" + "</div>" * 50_000),
    ("deep.json", "[" * 1_000_000),
    ("wide.html", "<p>x</p>" * 50_000),
])
def test_pathological_shapes_load_quickly(tmp_path, name, content):
    (tmp_path / name).write_text(content)
    started = time.monotonic()
    [item] = load_paths([tmp_path / name])
    assert time.monotonic() - started < 10
    assert isinstance(item, Skipped) if name.endswith(".json") else item.text.strip()


# A random folder tree beside a folder holding a secret: files in nested folders, and links of
# every kind (to a file or a folder inside, to the secret or its folder, back up the tree, to
# itself, to nothing), written as absolute or relative targets.
SECRET = "TOKEN=xoxb-never-in-a-corpus"
PLACES = ["", "a", "a/b", "a/b/d", "c"]
LINK_KINDS = ["inside file", "inside folder", "outside file", "outside folder", "the root", "itself", "nothing"]
tree_files = st.lists(st.sampled_from(PLACES), min_size=1, max_size=6)
tree_links = st.lists(st.tuples(st.sampled_from(PLACES), st.sampled_from(LINK_KINDS), st.booleans()), max_size=8)


def _inside(path: str, folder: Path) -> bool:
    return os.path.commonpath([os.path.realpath(path), str(folder)]) == str(folder)


@settings(max_examples=80, deadline=None)
@given(files=tree_files, links=tree_links, follow=st.booleans())
def test_no_file_outside_the_ingested_folder_is_ever_opened_whatever_its_links(files, links, follow):
    with tempfile.TemporaryDirectory() as base:
        base = Path(os.path.realpath(base))
        outside = base / "outside"
        (outside / "sub").mkdir(parents=True)
        (outside / "secret.txt").write_text(SECRET)
        (outside / "sub" / "more.txt").write_text(SECRET)
        root = base / "root"
        for number, place in enumerate(files):
            (root / place).mkdir(parents=True, exist_ok=True)
            (root / place / f"f{number}.txt").write_text(f"Inside file number {number}.")
        real_files = sorted(str(p) for p in root.rglob("*.txt"))
        link_paths = []
        for number, (place, kind, relative) in enumerate(links):
            folder = root / place
            folder.mkdir(parents=True, exist_ok=True)
            link = folder / f"link{number}.txt"
            target = {"inside file": Path(real_files[number % len(real_files)]), "inside folder": root / place,
                      "outside file": outside / "secret.txt", "outside folder": outside, "the root": root,
                      "itself": link, "nothing": root / "missing.txt"}[kind]
            link.symlink_to(os.path.relpath(target, folder) if relative else target)
            link_paths.append(str(link))

        with paths_opened() as opened:
            items = list(load_paths([root], ReadRules(follow_symlinks=follow)))

        assert [p for p in opened if p.startswith(str(base)) and not _inside(p, root)] == []  # never opened or listed
        documents = [item for item in items if isinstance(item, Document)]
        skipped = {item.source: item.reason for item in items if isinstance(item, Skipped)}
        assert not any(SECRET in d.text for d in documents)
        assert sorted(os.path.realpath(d.source) for d in documents) == real_files  # each real file once, no other
        for link, (_, kind, _) in zip(link_paths, links):
            if not follow:
                assert skipped.get(link) == LINK_NOT_FOLLOWED  # a link below a link-free path: listed as skipped
            elif kind.startswith("outside"):
                assert "outside the folder ingested" in skipped[link]
