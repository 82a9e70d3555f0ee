"""Loading files into Documents: formats, metadata, and files that must be skipped."""

import json
import os

import pytest

from retrieval.errors import UsageError
from retrieval.loaders import Skipped, expand_paths, load_paths
from tests.conftest import SEED_CORPUS, SEED_FILE
from tests.helpers import minimal_pdf


def loaded(path):
    return list(load_paths([path]))


def test_seed_date_marker_becomes_the_date_and_is_not_content():
    [doc] = loaded(SEED_FILE)
    assert doc.date == "2022-02-11"
    assert doc.text == SEED_FILE.read_text(encoding="utf-8")  # offsets point into the file as is
    assert doc.text[doc.body_start :].startswith("Ben Wallace has announced")


def test_sidecar_metadata_gives_the_title():
    [doc] = loaded(SEED_CORPUS)
    assert doc.title == json.loads((SEED_CORPUS / (SEED_FILE.name + ".meta.json")).read_text())["title"]
    assert doc.source == os.path.normpath(str(SEED_FILE))


def test_markdown_title_from_first_heading(tmp_path):
    (tmp_path / "notes.md").write_text("# Release plan\n\nWe ship on Monday.\n")
    [doc] = loaded(tmp_path / "notes.md")
    assert doc.title == "Release plan"
    assert "We ship on Monday." in doc.text


def test_html_text_without_scripts_and_with_its_title(tmp_path):
    (tmp_path / "page.html").write_text(
        "<html><head><title>Team page</title><script>var x = 'secret code';</script></head>"
        "<body><h1>Welcome</h1><p>The office opens at nine.</p><style>p {}</style></body></html>"
    )
    [doc] = loaded(tmp_path / "page.html")
    assert doc.title == "Team page"
    assert "The office opens at nine." in doc.text
    assert "secret code" not in doc.text and "p {}" not in doc.text


def test_pdf_text_is_extracted(tmp_path):
    (tmp_path / "memo.pdf").write_bytes(minimal_pdf(["The budget was approved on Tuesday.", "It totals four million."]))
    [doc] = loaded(tmp_path / "memo.pdf")
    assert "The budget was approved on Tuesday." in doc.text
    assert doc.title == "memo"


def test_an_empty_file_loads_as_an_empty_document(tmp_path):
    (tmp_path / "empty.txt").write_text("   \n")
    [doc] = loaded(tmp_path / "empty.txt")
    assert doc.text.strip() == ""  # ingest decides: nothing to index, and old passages go


def test_a_sidecar_date_must_be_an_iso_date(tmp_path):
    (tmp_path / "a.txt").write_text("Some text.")
    (tmp_path / "a.txt.meta.json").write_text('{"date": "<!channel> soon"}')
    [item] = loaded(tmp_path / "a.txt")
    assert isinstance(item, Skipped) and "YYYY-MM-DD" in item.reason


def test_squad_articles_with_the_same_title_stay_two_documents(tmp_path):
    article = {"title": "Same", "paragraphs": [{"context": "Text."}]}
    (tmp_path / "set.json").write_text(json.dumps({"data": [article, article]}))
    assert [d.source.rsplit("#", 1)[1] for d in loaded(tmp_path / "set.json")] == ["Same", "Same-2"]


def test_a_file_named_twice_by_two_spellings_is_loaded_once(tmp_path):
    (tmp_path / "a.txt").write_text("Text.")
    assert len(expand_paths([tmp_path / "a.txt", tmp_path / "." / "a.txt", tmp_path])) == 1


def test_squad_json_gives_one_document_per_article(tmp_path):
    data = {"data": [{"title": "Some_Topic", "paragraphs": [{"context": "First paragraph."}, {"context": "Second."}]}]}
    (tmp_path / "set.json").write_text(json.dumps(data))
    [doc] = loaded(tmp_path / "set.json")
    assert doc.title == "Some Topic"
    assert doc.source.endswith("set.json#Some_Topic")
    assert doc.text == "First paragraph.\n\nSecond."


@pytest.mark.parametrize(
    "name, content, reason",
    [
        ("blob.txt", b"\x00\x01\x02binary", "binary"),
        ("latin1.txt", "café au lait".encode("latin-1"), "not UTF-8"),
        ("image.png", b"\x89PNG", "unsupported file type"),
        ("broken.pdf", b"%PDF-1.4 not really", "unreadable PDF"),
        ("other.json", b'{"a": 1}', "not a SQuAD"),
    ],
)
def test_bad_files_are_skipped_with_a_reason(tmp_path, name, content, reason):
    (tmp_path / name).write_bytes(content)
    [item] = loaded(tmp_path / name)
    assert isinstance(item, Skipped)
    assert reason in item.reason


def test_unreadable_file_in_a_folder_is_skipped_and_the_rest_loaded(tmp_path):
    (tmp_path / "good.txt").write_text("A fine sentence.")
    (tmp_path / "gone.txt").symlink_to(tmp_path / "missing-target.txt")
    skipped, document = loaded(tmp_path)  # in name order: gone.txt, good.txt
    assert isinstance(skipped, Skipped) and "cannot read" in skipped.reason
    assert document.text == "A fine sentence."


def test_folders_are_walked_recursively_in_order_and_hidden_files_ignored(tmp_path):
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "z.txt").write_text("z")
    (tmp_path / "a.md").write_text("a")
    (tmp_path / ".hidden.txt").write_text("h")
    assert [p.name for p in expand_paths([tmp_path])] == ["a.md", "z.txt"]


def test_a_missing_path_is_a_usage_error_before_anything_is_read(tmp_path):
    with pytest.raises(UsageError, match="no such file or folder: .*nope"):
        expand_paths([SEED_CORPUS, tmp_path / "nope"])
