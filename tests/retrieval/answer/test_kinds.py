"""What a question asks for, and whether a sentence holds it."""

import pytest

from retrieval.answer.kinds import DATE, NAME, NUMBER, expected_kind, holds_kind, opens_with_anaphor


@pytest.mark.parametrize("question, kind", [
    ("Who founded the company?", NAME),
    ("Which carmaker recalled 50,000 vans?", NAME),
    ("In which city is the plant?", NAME),
    ("Where did the summit take place?", NAME),
    ("When will the ban come into force?", DATE),
    ("In what year did the Normans arrive?", DATE),
    ("How many complaints did the firm receive?", NUMBER),
    ("What percentage of the vote did she win?", NUMBER),
    ("What did Shoigu ask Wallace?", None),
    ("Who was seriously hurt when the pallet fell?", NAME),
    ("What document did Wallace refer to when he talked about Russia's concerns?", None),
    ("Why did prices rise when the plant closed?", None),
    ("Why did the river flood?", None),
])
def test_the_kind_of_answer_a_question_asks_for(question, kind):
    assert expected_kind(question) == kind


def test_a_sentence_holds_a_name_only_when_the_question_does_not_already_say_it():
    question = "Which carmaker recalled 50,000 vans?"
    assert holds_kind("Halvorsen Motors is recalling vans in Europe.", NAME, question)
    assert not holds_kind("The company said the recall covers 50,000 vans built since May.", NAME, question)
    assert not holds_kind("The Dublin-based airline made a profit.", NAME, "Which airline made a profit?")
    assert not holds_kind("Halvorsen said so.", NAME, "What did Halvorsen say?")


def test_numbers_and_dates_count_only_when_new():
    assert holds_kind("It received 212 complaints.", NUMBER, "How many complaints did it get?")
    assert not holds_kind("It covers 50,000 vans.", NUMBER, "How many of the 50,000 vans were sold?")
    assert holds_kind("The ban starts in August.", DATE, "When does the ban start?")
    assert not holds_kind("The ban starts soon.", DATE, "When does the ban start?")


@pytest.mark.parametrize("sentence, refers_back", [
    ("The company said the recall covers 48,700 vans.", True),
    ("She said more than 900 firefighters were working.", True),
    ("The 18-year-old was mobbed by teammates.", True),
    ('"We are sorry," said Ingrid Solbakken.', False),
    ("Halvorsen Motors is recalling vans.", False),
    ("The recall is the second for the model.", False),
])
def test_a_sentence_whose_subject_refers_back_to_a_name(sentence, refers_back):
    assert opens_with_anaphor(sentence) == refers_back
