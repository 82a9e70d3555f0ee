"""Splitting: exact offsets, sentence boundaries, and no sentence indexed twice."""

from hypothesis import given, settings
from hypothesis import strategies as st

from retrieval.ingest.loaders import load_paths
from retrieval.ingest.splitting import normalise, paragraphs, sentences, split
from retrieval.types import Document, Span
from tests.support.seed import SEED_FILE, SHOIGU_SENTENCE


def seed_passages(window_chars=600):
    [doc] = load_paths([SEED_FILE])
    return doc, split(doc, window_chars)


def test_every_passage_and_sentence_is_the_document_text_at_its_offsets():
    doc, passages = seed_passages()
    for p in passages:
        assert p.text == doc.text[p.start : p.end]
        for s in p.sentences:
            assert p.start <= s.start < s.end <= p.end


def test_the_run_together_first_line_is_not_indexed():
    doc, passages = seed_passages()
    first_line_end = doc.text.index("\n")
    assert all(p.start > first_line_end for p in passages)


def test_no_sentence_is_indexed_twice():
    doc, passages = seed_passages()
    keys = {normalise(doc.text[s.start : s.end]) for p in passages for s in p.sentences}
    total = len({(s.start, s.end) for p in passages for s in p.sentences})
    assert len(keys) == total


def test_the_answer_sentence_is_one_whole_sentence():
    doc, passages = seed_passages()
    found = [doc.text[s.start : s.end] for p in passages for s in p.sentences if SHOIGU_SENTENCE in doc.text[s.start : s.end]]
    assert found and found[0].startswith(SHOIGU_SENTENCE) and found[0].endswith("weapons deliveries.")


def test_windows_overlap_by_one_sentence_and_respect_the_size():
    doc, passages = seed_passages(window_chars=300)
    assert len(passages) > 3
    ends = {p.end for p in paragraphs(doc.text, doc.body_start)}
    overlapping = 0
    for a, b in zip(passages, passages[1:]):
        shared = set(a.sentences) & set(b.sentences)
        if shared:  # the next window starts with this one's last sentence, and shares nothing else
            assert shared == {a.sentences[-1]} == {b.sentences[0]}
            overlapping += 1
        else:  # only a window that ends its paragraph may be followed by one it does not overlap
            assert a.end in ends
    assert overlapping >= 2
    # Past the size only to finish a paragraph, and never past twice the size (or one sentence).
    for p in passages:
        assert p.end - p.start <= 300 or len(p.sentences) == 1 or (p.end in ends and p.end - p.start <= 600)


def test_a_window_runs_on_to_the_end_of_its_paragraph_within_twice_the_size():
    first = "The first paragraph opens here. " + " ".join(f"It goes on for line {n}." for n in range(8)) + " Its last sentence ends it."
    second = "A second paragraph follows. It is short."
    doc = Document(source="p.txt", text=f"{first}\n\n{second}", title="P")
    passages = split(doc, window_chars=150)
    assert doc.text[passages[0].start : passages[0].end] == first  # whole, though longer than 150
    long = " ".join(f"A very long paragraph, sentence {n}." for n in range(40))
    doc = Document(source="q.txt", text=long.strip(), title="Q")
    assert all(p.end - p.start <= 300 for p in split(doc, window_chars=150))  # too long to keep whole


def test_sentences_run_together_without_a_space_are_split():
    text = 'He said it twice.Then "she" left.After that, nothing.'
    spans = sentences(text, Span(0, len(text)))
    assert [text[s.start : s.end] for s in spans] == ["He said it twice.", 'Then "she" left.', "After that, nothing."]


def test_a_soft_line_wrap_does_not_end_a_paragraph():
    text = "This sentence is wrapped\nacross two lines.\nA new paragraph starts here."
    assert [text[s.start : s.end] for s in paragraphs(text)] == [
        "This sentence is wrapped\nacross two lines.",
        "A new paragraph starts here.",
    ]


def test_identical_paragraphs_in_a_document_are_indexed_once():
    text = "Alpha beta gamma.\n\nDelta epsilon.\n\nAlpha beta gamma.\n\nZeta eta."
    passages = split(Document("d.txt", text, "d"), 600)
    indexed = [text[s.start : s.end] for p in passages for s in p.sentences]
    assert indexed.count("Alpha beta gamma.") == 1


def test_passage_ids_stay_the_same_across_runs_and_versions():
    """Re-ingesting an unchanged file rewrites nothing only while its ids stay the same: a
    change here rewrites every stored passage, so it has to be made on purpose."""
    text = "Alpha beta gamma.\n\nDelta epsilon.\n\nZeta eta theta."
    [passage] = split(Document("d.txt", text, "d"), 600)
    assert passage.id == "c3d80d77765f56c67df9dee0997752cbd4dd0456"


text_strategy = st.lists(
    st.sampled_from(list("abc XYZ.!?\n\t\"'“”é\u200b") + ["\n\n", ". ", "Word", "date 2020-01-01 "]),
    max_size=200,
).map("".join)


@settings(max_examples=200, deadline=None)
@given(text=text_strategy, window=st.integers(100, 700))
def test_offsets_are_exact_for_any_text(text, window):
    doc = Document("x.txt", text, "x")
    for p in split(doc, window):
        assert p.text == text[p.start : p.end]
        assert p.text.strip() == p.text and p.text
        for s in p.sentences:
            assert text[s.start : s.end].strip()
