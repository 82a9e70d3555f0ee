"""Aligning a question's words with a sentence's by meaning (retrieval/answer/alignment.py):
the word grouping and the matching without a model, and what the real model's token vectors
make of a paraphrase and of a look-alike."""

import numpy as np
import pytest

from retrieval.answer.alignment import matches, question_words, weighted_share
from retrieval.search.onnx_encoder import TokenVectors

QUESTION = "Who founded Shoigu's firm?"
# As the tokeniser splits it: words at spaces and punctuation, then word pieces ("found", "##ed").
SPANS = [(0, 3), (4, 9), (9, 11), (12, 18), (18, 19), (19, 20), (21, 25), (25, 26)]


def test_a_word_is_its_touching_pieces_and_stop_words_and_punctuation_are_left_out():
    tokens = TokenVectors(np.eye(len(SPANS), dtype=np.float32), SPANS)
    words = question_words(QUESTION, tokens)
    assert words.terms == ("found", "shoigu", "firm")
    assert words.bounds == ((0, 2), (2, 3), (3, 4))
    assert np.array_equal(words.vectors, np.eye(len(SPANS), dtype=np.float32)[[1, 2, 3, 6]])


def test_a_word_matches_as_the_mean_of_its_pieces_best_cosines():
    tokens = TokenVectors(np.eye(len(SPANS), dtype=np.float32), SPANS)
    words = question_words(QUESTION, tokens)
    # The sentence holds the "found" piece and "firm" exactly, nothing like "##ed" or "shoigu".
    sentence = TokenVectors(np.eye(len(SPANS), dtype=np.float32)[[1, 6]], [(0, 5), (6, 10)])
    assert matches(words, sentence).tolist() == [0.5, 0.0, 1.0]
    assert weighted_share(np.array([0.5, 0.0, 1.0]), np.array([1.0, 2.0, 1.0])) == pytest.approx(0.375)


def test_an_empty_sentence_matches_nothing():
    words = question_words(QUESTION, TokenVectors(np.eye(len(SPANS), dtype=np.float32), SPANS))
    assert matches(words, TokenVectors(np.zeros((0, len(SPANS)), np.float32), [])).tolist() == [0.0, 0.0, 0.0]


@pytest.mark.integration
@pytest.mark.parametrize("question, word, paraphrase, look_alike", [
    ("Who does Shoigu say is not to blame for the rising tension in Europe?", "blame",
     "Shoigu said the situation in Europe was becoming more tense, by no fault of Moscow.",
     "Shoigu said Europe was rising to the occasion."),
    ("Who founded Microsoft?", "found",
     "Bill Gates and Paul Allen started Microsoft in 1975.",
     "The court found that Microsoft's use of the name infringed the trademark."),
])
def test_the_real_model_finds_a_word_said_in_other_words_but_not_its_look_alike(settings, question, word,
                                                                                  paraphrase, look_alike):
    """"blame" is said by "fault", "founded" by "started"; "found" in "the court found" is
    another verb, though the stemmer makes it the same term."""
    from retrieval import SentenceEmbeddings
    from retrieval.store.naming import model_cache

    embeddings = SentenceEmbeddings(settings.embed_model, cache_dir=model_cache(settings))
    asked, said, alike = embeddings.token_vectors([question, paraphrase, look_alike])
    words = question_words(question, asked)
    at = words.terms.index(word)
    assert matches(words, said)[at] > matches(words, alike)[at] + 0.2
