"""What a question asks of the corpus: how it is asked, and the clause naming the corpus
itself, are not part of it."""

import pytest

from retrieval.search.query import asked


@pytest.mark.parametrize("question", [
    "According to the article, what did Shoigu ask Wallace?",
    "Based on the document: what did Shoigu ask Wallace?",
    "In this text, what did Shoigu ask Wallace?",
    "What did Shoigu ask Wallace, according to the text?",
    "What did Shoigu ask Wallace in these documents?",
    "What did Shoigu ask Wallace, as reported in the news article?",
])
def test_a_clause_naming_the_corpus_at_either_end_is_left_out(question):
    assert asked(question) == "What did Shoigu ask Wallace?"


def test_what_the_corpus_is_said_to_say_is_what_is_asked():
    assert asked("What does the article say Shoigu asked Wallace?") == "What Shoigu asked Wallace?"
    assert asked("Does the text mention who Shoigu's counterpart is?") == "Who Shoigu's counterpart is?"


@pytest.mark.parametrize("question", [
    "What was found in the report?",  # a report the news is about
    "What is the text of the treaty?",
    "What document did Wallace refer to?",
    "What did The Times report?",
    "How good is cooperation, according to Shoigu?",  # whose words: a person, not the corpus
    "According to the article?",  # nothing else asked: kept as it is
])
def test_questions_about_documents_or_speakers_are_kept_as_asked(question):
    assert asked(question) == question


@pytest.mark.parametrize("question", [
    "Hi, what did Shoigu ask Wallace?",
    "Hey there! Quick question: what did Shoigu ask Wallace?",
    "Can you tell me what did Shoigu ask Wallace?",
    "Could you please tell me: what did Shoigu ask Wallace?",
    "Do you know what did Shoigu ask Wallace?",
    "I'd like to know what did Shoigu ask Wallace?",
    "What did Shoigu ask Wallace? Thanks!",
    "What did Shoigu ask Wallace, please?",
    "Hello, according to the article, what did Shoigu ask Wallace? Thank you so much.",
])
def test_a_greeting_a_request_to_be_told_and_thanks_are_left_out(question):
    assert asked(question) == "What did Shoigu ask Wallace?"


@pytest.mark.parametrize("question", [
    "What issues may members vote on as they please?",  # "please" without a mark before it
    "Who is Ty?",
    "Who told Wallace to leave?",
    "Thanks!",  # nothing else: kept
])
def test_words_of_asking_inside_a_question_are_kept(question):
    assert asked(question) == question
