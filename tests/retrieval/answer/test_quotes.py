"""Locating a model's quote in its passage: verbatim, or verbatim once white space, quote
marks (single and double alike) and dashes are folded, or once the capital and the final mark
quoting puts at a quote's edges are undone, or with a comma or full stop on the other side of
a closing quote mark; anything else is not found."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from retrieval.answer.quotes import locate

TEXT = 'He said: "we will respond in the near future" \u2013 and  left.\nShoigu\u2019s reply came later.'


def test_an_exact_quote_is_found_at_its_offsets():
    start, end = locate("we will respond in the near future", TEXT)
    assert TEXT[start:end] == "we will respond in the near future"


@pytest.mark.parametrize("quote, expected", [
    ('"we will respond in the near future"', '"we will respond in the near future"'),  # the source's own marks
    ("'we will respond in the near future'", "we will respond in the near future"),  # wrapped by the model
    ("said: 'we will", 'said: "we will'),  # one ' for a " inside the quote
    ("\u201cwe will respond in the near future\u201d", "we will respond in the near future"),
    ('future" - and left.', 'future" \u2013 and  left.'),  # dash and double space folded
    ("Shoigu's reply", "Shoigu\u2019s reply"),  # straight for curly apostrophe
    ("and left. Shoigu\u2019s", "and  left.\nShoigu\u2019s"),  # a line break is white space
])
def test_folded_quotes_map_back_to_the_source_text(quote, expected):
    start, end = locate(quote, TEXT)
    assert TEXT[start:end] == expected


@pytest.mark.parametrize("quote, expected", [
    ("We will respond in the near future", "we will respond in the near future"),  # quoted from mid-sentence
    ("we will respond in the near future.", "we will respond in the near future"),  # a full stop to end the quote
    ("'We will respond in the near future.'", "we will respond in the near future"),
    ("Shoigu's reply came later", "Shoigu’s reply came later"),  # the source's own full stop left off
])
def test_the_capital_and_the_final_mark_that_quoting_adds_are_undone(quote, expected):
    start, end = locate(quote, TEXT)
    assert TEXT[start:end] == expected


TENSE = 'the situation in Europe as becoming "more and more tense," stressing that it was "no fault of Moscow."'


@pytest.mark.parametrize("quote, expected", [
    # The model's house style puts the comma after the closing mark; the source's own text is shown.
    ("as becoming 'more and more tense', stressing", 'as becoming "more and more tense," stressing'),
    ('becoming "more and more tense"', 'becoming "more and more tense,"'),
    ('it was "no fault of Moscow".', 'it was "no fault of Moscow."'),
])
def test_a_comma_or_full_stop_beside_a_closing_quote_mark_is_read_on_either_side(quote, expected):
    start, end = locate(quote, TENSE)
    assert TENSE[start:end] == expected


@pytest.mark.parametrize("quote", [
    'becoming "more and more, tense"',  # a comma moved inside the words
    "becoming more and more tense, stressing",  # the quote marks left out
])
def test_punctuation_moved_anywhere_else_is_not_found(quote):
    assert locate(quote, TENSE) is None


@pytest.mark.parametrize("quote", [
    "we Will respond in the near future",  # case differs inside the quote
    "we will respond ... near future",  # elided
    "we shall respond in the near future",  # a word changed
    "we will respond, in the near future",  # punctuation added inside
    "we will respond in the near future!.",  # two marks added
    "",
    "   ",
])
def test_anything_but_the_source_words_is_not_found(quote):
    assert locate(quote, TEXT) is None


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from("ab \n\t\u2019'\u2013-\"\u201c."), min_size=1, max_size=60), st.data())
def test_any_slice_of_a_text_is_located_exactly(text, data):
    start = data.draw(st.integers(0, len(text) - 1))
    end = data.draw(st.integers(start + 1, len(text)))
    piece = text[start:end]
    found = locate(piece, text)
    if not piece.strip():
        assert found is None
        return
    assert found is not None
    assert text[found[0]:found[1]] == piece.strip()  # the slice's own characters, not a folded look-alike


def test_a_quote_longer_than_400_characters_is_cut_at_a_clause_and_stays_the_documents_words():
    from retrieval.answer.quotes import clip

    sentence = ("The council, which met on Tuesday, " + "approved the long-delayed plan for the harbour, " * 12).strip()
    cut = clip(sentence)
    assert 200 <= cut <= 400 and sentence[:cut].endswith(",")
    assert clip("Short enough.") == len("Short enough.")
    unbroken = "x" * 500
    assert clip(unbroken) == 400


def test_a_long_sentence_is_quoted_from_the_clause_that_answers_not_cut_off_before_it():
    from retrieval.answer.quotes import focus

    sentence = ("Southern California is home to Los Angeles International Airport, the second-busiest airport in the "
                "United States by passenger volume and the third by international passenger volume, with flights to "
                "every continent, many of them operated by carriers based in Asia and the Pacific, which added "
                "routes to South America and Africa over the decade, as well as a network of smaller regional "
                "airports; Van Nuys Airport, the world's busiest general aviation airport, is "
                "among them.")
    asks = lambda text: ("general" in text) + ("aviation" in text)  # noqa: E731  the question's words
    start, end = focus(sentence, asks)
    shown = sentence[start:end]
    assert "Van Nuys Airport, the world's busiest general aviation airport" in shown and end - start <= 400
    assert start > 0 and sentence[:start].endswith(", ")  # from a clause on: "which added routes ..."
    # With nothing better further on, a quote still opens where the sentence does.
    assert focus(sentence, lambda text: "Southern" in text)[0] == 0
    assert focus("Short enough.", asks) == (0, len("Short enough."))
