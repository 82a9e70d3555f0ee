"""Splitting any text (as loaders give it: valid Unicode, with whatever characters and shapes):
offsets always exact, nothing of the body lost except what is dropped on purpose, the same
passages every time, and time that grows with the text, not with its square."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from retrieval.ingest.splitting import normalise, paragraphs, sentences, split
from retrieval.types import Document
from tests.support import hostile
from tests.support.seed import ROOT

documents = st.builds(
    lambda date, body, title: Document("x.txt", date + body, title, body_start=len(date)),
    st.sampled_from(["", "", "date 2022-02-11 "]),  # as loaders leave a leading date marker
    hostile.hostile_text,
    st.text(min_size=1, max_size=10),
)
windows = st.integers(100, 1200)  # QA_WINDOW_CHARS allows 100..5000


@settings(max_examples=300, deadline=None)
@given(doc=documents, window=windows)
def test_every_offset_is_exact(doc, window):
    text = doc.text
    ends = {p.end for p in paragraphs(text, doc.body_start)}
    for p in split(doc, window):
        assert p.text == text[p.start : p.end] and p.text.strip() == p.text != ""
        assert p.start >= doc.body_start
        assert (p.start, p.end) == (p.sentences[0].start, p.sentences[-1].end)
        for s, following in zip(p.sentences, p.sentences[1:]):
            assert s.end <= following.start  # in order, never overlapping
        for s in p.sentences:
            sentence = text[s.start : s.end]
            assert p.start <= s.start < s.end <= p.end
            assert sentence == p.text[s.start - p.start : s.end - p.start] and sentence.strip() == sentence
        # A window outgrows its size only for one sentence, or to finish a paragraph within twice the size.
        assert p.end - p.start <= window or len(p.sentences) == 1 or (p.end in ends and p.end - p.start <= 2 * window)


@settings(max_examples=300, deadline=None)
@given(doc=documents)
def test_the_sentences_cover_every_visible_character_of_the_body(doc):
    text = doc.text
    covered = set()
    for para in paragraphs(text, doc.body_start):
        for s in sentences(text, para):
            covered.update(range(s.start, s.end))
    # Spaces and invisible characters (controls, zero-width and direction marks: Unicode Cc
    # and Cf) may fall between sentences; anything else must be inside one.
    visible = [i for i in range(doc.body_start, len(text))
               if not text[i].isspace() and unicodedata.category(text[i]) not in {"Cc", "Cf"}]
    lost = [i for i in visible if i not in covered]
    assert not lost, f"characters lost: {[text[i] for i in lost][:20]}"


@settings(max_examples=300, deadline=None)
@given(doc=documents, window=windows)
def test_a_sentence_is_left_out_only_when_it_has_no_words_repeats_one_or_is_in_a_digest(doc, window):
    text = doc.text
    passages = split(doc, window)
    indexed = {(s.start, s.end) for p in passages for s in p.sentences}
    indexed_keys = {normalise(text[a:b]) for a, b in indexed}
    paras = paragraphs(text, doc.body_start)
    para_keys = [normalise(text[p.start : p.end]) for p in paras]
    for n, para in enumerate(paras):
        for s in sentences(text, para):
            key = normalise(text[s.start : s.end])
            if (s.start, s.end) in indexed or not key or key in indexed_keys:
                continue
            # A digest: a long paragraph that runs at least two other paragraphs together.
            repeated = [k for m, k in enumerate(para_keys) if m != n and k and k in para_keys[n]]
            assert len(repeated) >= 2, f"lost sentence {text[s.start:s.end]!r}"


def test_passages_and_their_ids_do_not_depend_on_the_process():
    """Passage ids are stored ids, and a re-ingest must find the same passages: another process
    (another hash seed) splits every document into the same windows, sentences and ids."""
    texts = ["date 2022-02-11 " + "\n\n".join(f"Sentence {n} is here. And é{n} 😀 follows!" for n in range(30)),
             "A line.\nAnother line. " * 40 + "\n\nRepeated. Repeated. Repeated.\n\n" + "Mr. Smith left at 5 p.m. on Friday. " * 30,
             "\n\n".join(["Short."] * 25 + [f"A longer paragraph {n}, with a clause; and more text after it." for n in range(25)])]
    shape = "[[p.id, p.start, p.end, [[s.start, s.end] for s in p.sentences]] for p in split(Document('x.txt', t, 'x', body_start=b), w)]"
    code = ("import json, sys; from retrieval.ingest.splitting import split; from retrieval.types import Document; "
            f"print(json.dumps([{shape} for t, b in zip(json.loads(sys.argv[1]), (16, 0, 0)) for w in (120, 300, 900)]))")
    here = subprocess.run([sys.executable, "-c", code, json.dumps(texts)], capture_output=True, text=True, check=True,
                          cwd=ROOT, env={**os.environ, "PYTHONHASHSEED": "0", "PYTHONPATH": str(ROOT)}).stdout
    assert len(json.loads(here)) == 9 and all(json.loads(here))
    for seed in ("1", "2"):
        out = subprocess.run([sys.executable, "-c", code, json.dumps(texts)], capture_output=True, text=True, check=True,
                             cwd=ROOT, env={**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(ROOT)})
        assert out.stdout == here


@pytest.mark.parametrize("name, text", [
    ("soft-wrapped lines", "word\n" * 200_000),  # took 21 s for 40,000 lines before
    ("short paragraphs", "\n\n".join(["a."] * 20_000 + [f"bbbb{n}." for n in range(20_000)])),  # minutes before
    ("one long line", "word " * 200_000),
    ("only punctuation", "?! " * 100_000),
    ("zero-width", "\u200b" * 300_000),
])
def test_hostile_shapes_split_in_linear_time(name, text):
    started = time.monotonic()
    passages = split(Document("x.txt", text, "x"), 600)
    assert time.monotonic() - started < 10
    assert all(p.text == text[p.start : p.end] for p in passages)
