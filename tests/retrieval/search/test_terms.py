"""The terms BM25 and the answerer count: what makes two spellings the same word."""

from retrieval.search.lexical import LexicalIndex, terms


def test_a_question_typed_without_accents_matches_the_accented_word():
    assert terms("Who was Richard's fiancee?") == terms("Richard's fiancée?")
    assert terms("Jumièges, Île-de-France") == terms("Jumieges, Ile-de-France")
    index = LexicalIndex.build(["a", "b"], ["the boat carrying his fiancée", "the fleet left Messina"])
    assert index.search(terms("Who was Richard's fiancee?"), 2)[0][0] == "a"


def test_words_without_a_latin_form_are_kept_as_written():
    assert terms("東京 Straße") == ["東京", "strass"]
