"""The answerer's word-order signal: the question's adjacent terms, held adjacent."""

from retrieval.search.lexical import phrase_coverage


def test_the_share_of_the_questions_word_pairs_held_in_order():
    held = phrase_coverage("What has Russia considered, according to Shoigu?")  # pairs: russia-consid, consid-accord, accord-shoigu
    assert held("The chief said that Russia has considered how to respond.") == 1 / 3  # "has" is a stop word
    assert held("Shoigu considered what Russia would say.") == 0.0  # the same words, not in order
    assert phrase_coverage("Moscow?")("Moscow talks") == 0.0  # no pair to hold


def test_a_pair_weighs_its_lesser_terms_scale():
    """Whose words are asked about ("the Russian defence chief") weighs half, and so do the
    pairs touching them: share-histori weighs 1, the four others 0.5 each."""
    question = "What shared history did the Russian defence chief mention?"
    plain, weighed = phrase_coverage(question), phrase_coverage(question, scale={"russian": 0.5, "defenc": 0.5, "chief": 0.5})
    assert plain("They shared history.") == 1 / 5 and plain("The Russian defence chief spoke.") == 2 / 5
    assert weighed("They shared history.") == 1 / 3 and weighed("The Russian defence chief spoke.") == 1 / 3
