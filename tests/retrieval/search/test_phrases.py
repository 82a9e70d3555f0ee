"""The answerer's word-order signal: the question's adjacent terms, held adjacent."""

from retrieval.search.lexical import phrase_coverage


def test_the_share_of_the_questions_word_pairs_held_in_order():
    held = phrase_coverage("What has Russia considered, according to Shoigu?")  # pairs: russia-consid, consid-accord, accord-shoigu
    assert held("The chief said that Russia has considered how to respond.") == 1 / 3  # "has" is a stop word
    assert held("Shoigu considered what Russia would say.") == 0.0  # the same words, not in order
    assert phrase_coverage("Moscow?")("Moscow talks") == 0.0  # no pair to hold
