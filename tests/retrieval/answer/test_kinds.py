"""What a question asks for, and whether a sentence holds it."""

import pytest

from retrieval.answer.kinds import DATE, NAME, NUMBER, TITLE, expected_kind, holds_kind, opens_with_anaphor, speaker


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
    ("What is Ben Wallace's role?", TITLE),
    ("What position does Valery Gerasimov hold?", TITLE),
    ("What is the position of the satellite?", None),  # nobody's title
])
def test_the_kind_of_answer_a_question_asks_for(question, kind):
    assert expected_kind(question) == kind


def test_a_sentence_holds_a_name_only_when_the_question_does_not_already_say_it():
    question = "Which carmaker recalled 50,000 vans?"
    assert holds_kind("Halvorsen Motors is recalling vans in Europe.", NAME, question)
    assert not holds_kind("The company said the recall covers 50,000 vans built since May.", NAME, question)
    assert not holds_kind("The Dublin-based airline made a profit.", NAME, "Which airline made a profit?")
    assert not holds_kind("Halvorsen said so.", NAME, "What did Halvorsen say?")


@pytest.mark.parametrize("sentence, titled", [
    ("UK Defence Chief Ben Wallace traveled to Moscow on Friday.", True),
    ("Wallace arrived for talks with Valery Gerasimov - the Chief of Russian General Staff.", True),
    ("Ana Ruiz, the company's chief executive, said sales fell.", True),
    ("Ben Wallace met Russian Defence Minister Sergei Shoigu.", False),  # another man's title
    ("Ahead of Wallace's visit, The Times said the defence chief would warn Moscow.", False),
])
def test_a_title_counts_when_it_stands_beside_a_name_the_question_asks_about(sentence, titled):
    question = "What is the role of Ben Wallace, Valery Gerasimov or Ana Ruiz?"
    assert holds_kind(sentence, TITLE, question) is titled


@pytest.mark.parametrize("question, whose", [
    ("What has Russia considered, according to Shoigu?", "Shoigu"),
    ("Where are the weapons coming from, in Shoigu's view?", "Shoigu"),
    ("What did the Wexmoor Athletic manager say after the defeat?", "the Wexmoor Athletic manager"),
    ("What did Shoigu ask Wallace?", ""),
])
def test_the_words_naming_whose_statement_is_asked_about(question, whose):
    assert speaker(question).strip() == whose


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


def test_an_age_asked_for_with_which_wants_a_name():
    assert expected_kind("Which 18-year-old was playing only his third league game?") == NAME


def test_a_sentences_first_word_is_a_name_only_when_the_document_capitalises_it_elsewhere():
    from retrieval.answer.kinds import inner_names

    document = ["Brightwater agreed to buy snack company Crunchline.", "Crunchline, founded in 1994, makes chips.",
                "Forecasters expect sales to grow."]
    names = inner_names(document)
    question = "Which snack company was founded in 1994?"
    assert holds_kind(document[1], NAME, question, names)
    assert not holds_kind(document[2], NAME, "Who expects sales to grow?", names)
    assert holds_kind(document[2], NAME, "Who expects sales to grow?")  # without the document: any capital


def test_names_are_whole_phrases():
    from retrieval.answer.kinds import name_phrases

    sentence = "Train drivers at Ridgeway Rail will strike, the Transport and Rail Workers Federation said."
    assert name_phrases(sentence, frozenset()) == {"ridgeway rail", "transport", "rail workers federation"}


@pytest.mark.parametrize("sentence, refers", [
    ("The operator runs services between Alderbrook and 46 towns.", True),
    ("In July the carmaker replaced faulty seat-belt anchors.", False),  # another noun than asked
    ("Trains run on the line Metro Trains operates.", False),
    ("It runs the operator Ridgeway Rail bought.", False),  # "the operator Ridgeway Rail": the name beside it
    ("Ridgeway Rail, the operator, said so.", False),
])
def test_a_sentence_calling_the_asked_for_thing_the_operator_names_it_elsewhere(sentence, refers):
    from retrieval.answer.kinds import refers_to_asked

    assert refers_to_asked(sentence, "Which operator carries 310,000 passengers a day?") == refers


def test_a_subject_the_question_itself_names_does_not_refer_back():
    assert opens_with_anaphor("The church was used by the dukes to unify them.")
    assert not opens_with_anaphor("The church was used by the dukes to unify them.", "Who used the church?")
