"""The terms BM25 and the answerer count: what makes two spellings the same word."""

import pytest

from retrieval.search.lexical import LexicalIndex, related, terms


def test_a_question_typed_without_accents_matches_the_accented_word():
    assert terms("Who was Richard's fiancee?") == terms("Richard's fiancée?")
    assert terms("Jumièges, Île-de-France") == terms("Jumieges, Ile-de-France")
    index = LexicalIndex.build(["a", "b"], ["the boat carrying his fiancée", "the fleet left Messina"])
    assert index.search(terms("Who was Richard's fiancee?"), 2)[0][0] == "a"


def test_words_without_a_latin_form_are_kept_as_written():
    assert terms("東京 Straße") == ["東京", "strass"]


def test_a_word_the_corpus_never_uses_is_read_as_the_known_word_a_typo_away():
    index = LexicalIndex.build(["a", "b"], ["Farms range from horticulture to agricultural livestock.",
                                            "The broadcaster purchased four packages."])
    assert index.question_terms("Which livestock was the argricultural region known for?") == terms(
        "Which livestock was the agricultural region known for?")  # a letter too many
    assert index.question_terms("Who purhcased the pacakages?") == terms("Who purchased the packages?")  # swapped, doubled
    assert index.search(index.question_terms("Who purhcased them?"), 2)[0][0] == "b"


def test_short_words_numbers_and_words_more_than_a_typo_away_stay_as_asked():
    index = LexicalIndex.build(["a"], ["The broadcaster purchased four packages in 1991."])
    assert index.question_terms("Was it bought in 1992 by the brodcsatre?") == terms("Was it bought in 1992 by the brodcsatre?")
    assert index.question_terms("Were there fuor?") == terms("Were there fuor?")  # four letters: too short to tell


def test_another_form_of_a_question_word_counts_for_half_of_it():
    # Both forms are in the corpus, so neither reads as a typo of the other.
    index = LexicalIndex.build(["a", "b", "c"], ["They share a historical experience.", "They share a flat.",
                                                 "A history of the flat."])
    covered = index.coverage("What history do they share?")
    assert covered("They share a historical experience.") > covered("They share a flat.") > 0
    assert covered("They share a history.") > covered("They share a historical experience.")


def test_among_the_sentences_an_answer_is_chosen_from_a_word_they_all_hold_weighs_less():
    # "shoigu" and "cooper" are equally rare in the corpus, but every candidate names Shoigu.
    index = LexicalIndex.build(["a", "b", "c", "d"], ["Shoigu spoke of cooperation.", "Rain in Oslo.",
                                                      "Markets fell.", "Snow is expected."])
    sentences = ["Shoigu said the talks went well.", "Shoigu said relations were tense.",
                 "Cooperation is close to zero, he said."]
    question = "How good is cooperation, according to Shoigu?"
    in_corpus, among = index.coverage(question), index.coverage(question, among=sentences)
    assert in_corpus(sentences[0]) == in_corpus(sentences[2])
    assert among(sentences[2]) > among(sentences[0]) > 0


def test_a_scaled_term_weighs_its_scale_times_as_much():
    index = LexicalIndex.build(["a", "b"], ["Shoigu spoke of cooperation.", "Rain in Oslo."])
    question = "Shoigu on cooperation?"
    plain, halved = index.coverage(question), index.coverage(question, scale={"shoigu": 0.5})
    assert plain("Shoigu said so.") == pytest.approx(0.5)  # the two terms weigh the same here
    assert halved("Shoigu said so.") == pytest.approx(1 / 3) and halved("Cooperation is low.") == pytest.approx(2 / 3)


def test_the_abstentions_coverage_counts_a_question_word_only_as_asked():
    index = LexicalIndex.build(["a", "b", "c"], ["They share a historical experience.", "They share a flat.",
                                                 "A history of the flat."])
    _, covered = index.known_coverage("What history do they share?")
    assert covered("They share a historical experience.") == covered("They share a flat.") < covered("They share a history.")


def test_forms_of_one_word_are_told_from_different_words():
    assert related("histori", "histor") and related("russia", "russian") and related("diplomaci", "diplomat")
    assert not related("part", "parti")  # "part" and "party": stems under five letters stay apart
    assert not related("secur", "secular") and not related("nation", "nation")


def test_dotted_initials_are_one_word_as_written_without_dots():
    assert terms("the U.S. and the U.N.") == terms("the US and the UN") == ["us", "un"]
    index = LexicalIndex.build(["a", "b"], ["The U.N. envoy arrived on Monday.", "The envoy from Oslo arrived."])
    assert index.search(terms("When did the UN envoy arrive?"), 2)[0][0] == "a"


def test_a_name_the_corpus_never_mentions_is_unknown_but_initials_and_their_words_are_one_name():
    spelled_out = LexicalIndex.build(["a"], ["Funds come from a European Union recovery programme."])
    passages = ["Funds come from a European Union recovery programme."]
    assert spelled_out.unknown_names("How much EU funding does the project get?", passages) == 0.0
    assert spelled_out.unknown_names("How much E.U. funding does the project get?", passages) == 0.0
    # Initials count as mentioned only where the passages spell them out, in that order.
    assert spelled_out.unknown_names("How much EU funding does the project get?") == 1.0
    assert spelled_out.unknown_names("How much UE funding does the project get?", passages) == 1.0
    initials = LexicalIndex.build(["a"], ["The EU approved the programme."])
    assert initials.unknown_names("What did the European Union approve?") == 0.0
    assert initials.unknown_names("What did the European Commission approve?") == 1.0
    assert initials.unknown_names("What did Brazil approve?") == 1.0


def test_british_and_american_spellings_are_one_word():
    assert terms("the defence minister travelled to the centre") == terms("the defense minister traveled to the center")
    index = LexicalIndex.build(["a", "b"], ["Russian Defence Minister Sergei Shoigu met him.", "The minister left."])
    assert index.known_coverage("Who is the Russian defense minister?")[0] == 1.0
    assert index.search(terms("Who is Russia's defense minister?"), 2)[0][0] == "a"


def test_a_name_typed_a_letter_wrong_is_the_corpus_name_not_an_unknown_one():
    index = LexicalIndex.build(["a", "b"], ["Shoigu asked Wallace to explain.", "The minister left Moscow."])
    for question in ("What did Shoigu ask Wallce?", "What did Shoygu ask Wallace?"):
        assert index.unknown_names(question) == 0.0
        assert index.known_coverage(question)[0] == 1.0
    assert index.unknown_names("What did Lavrov ask Wallace?") == 1.0  # a name, not a typo of one
    assert index.unknown_names("What did the NLF ask?") == 1.0  # too short to tell from another name
    # Only names are read so: a common word typed wrong is still a word the corpus lacks.
    assert index.known_coverage("What did Shoigu explian?")[0] == 0.5


def test_a_name_the_passages_transliterate_with_other_vowels_is_their_name():
    passages = ["Shoigu complained of weapons deliveries gorging Kiev.", "Harry spoke in Oslo."]
    index = LexicalIndex.build(["a", "b"], passages)
    question = "What is gorging Kyiv?"  # two letters from "Kiev": not a typo
    assert index.unknown_names(question, passages) == 0.0
    assert index.known_coverage(question, passages)[0] == 1.0
    # Only where the retrieved passages spell it so.
    assert index.unknown_names(question) == 1.0 and index.known_coverage(question)[0] == 0.5
    # Other consonants, or more than two letters changed, make another name.
    assert index.unknown_names("What is Kyoto being filled with?", passages) == 1.0
    assert index.unknown_names("Who did Hierro meet?", passages) == 1.0  # "Harry": three letters


def test_found_is_the_past_of_find_not_a_form_of_founded():
    assert terms("What did the survey find?") == terms("What did the survey found?")
    assert "found" in terms("Who founded Acme?") and "found" not in terms("The court found that Acme's logo was copied.")
    index = LexicalIndex.build(["a", "b"], ["The court found that Acme's logo was copied.", "Acme was founded in 1901 by Ada Lind."])
    assert index.search(terms("Who founded Acme?"), 2)[0][0] == "b"
    assert index.search(terms("What did the court find?"), 2)[0][0] == "a"
