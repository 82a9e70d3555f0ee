"""Which earlier sentence a "which" or "who" answer reaches back to, when the best sentence
calls the answer "the company" or "she", and when a sentence that goes on from the best one
("It ...") is quoted with it: without a model or a store."""

import pytest
from langchain_core.documents import Document

from retrieval.answer.extractive import AnswerSettings, Candidate, ExtractiveAnswerer
from retrieval.answer.kinds import expected_kind, holds_kind, inner_names
from retrieval.types import Span


def passage(question: str, *sentences: str, best: int = -1) -> list[Candidate]:
    """One passage (the first of its document, so nothing is read before it); the sentence
    at `best` (the last, unless told) scores best, the others barely. Each holds a name or not as the answerer
    would judge it."""
    text = " ".join(sentences)
    spans, start = [], 0
    for sentence in sentences:
        spans.append([start, start + len(sentence)])
        start += len(sentence) + 1
    doc = Document(page_content=text, metadata={"source": "news.md", "start": 0, "end": len(text), "score": 1.0,
                                                "position": 0, "sentences": spans})
    names = inner_names(sentences)
    best %= len(sentences)
    return [Candidate(doc, 0, Span(*span), sentence, 0.9 if i == best else 0.1, 0.5, index=i,
                      typed=holds_kind(sentence, expected_kind(question), question, names))
            for i, (span, sentence) in enumerate(zip(spans, sentences))]


def first_quote(candidates: list[Candidate], question: str) -> str:
    answerer = ExtractiveAnswerer(store=None, settings=AnswerSettings(min_answerable=0.0))
    return answerer.quote_text(answerer.select(candidates, question)[0])


def test_the_company_is_the_one_the_document_keeps_naming_not_the_person_quoted_in_between():
    question = "Which company said it was disappointed?"
    candidates = passage(
        question,
        "Train drivers at Ridgeway Rail will walk out for three days.",
        "Ridgeway Rail expects to run one in five services.",
        '"They deserve better," said union leader Marcus Fenwick.',
        'The company said it was "disappointed" and urged the union to return to talks.',
    )
    quote = first_quote(candidates, question)
    assert quote.startswith("Ridgeway Rail expects")  # not "... said union leader Marcus Fenwick."
    assert quote.endswith("return to talks.")


@pytest.mark.parametrize("max_citations", [1, 2, 3])
def test_a_name_too_far_back_to_quote_with_its_sentence_is_cited_apart_within_the_citation_cap(max_citations):
    question = "Which carmaker is recalling the vans?"
    filler = "the recall notice explains at length how the brakes were tested " * 5
    candidates = passage(
        question,
        "Halvorsen Motors builds electric delivery vans in two factories.",
        f"Drivers were told that {filler.strip()}.",
        "The carmaker said the recall covers 48,700 vans built since May.",
    )
    answerer = ExtractiveAnswerer(store=None, settings=AnswerSettings(min_answerable=0.0), max_citations=max_citations)
    quotes = [answerer.quote_text(q) for q in answerer.select(candidates, question)]
    assert 1 <= len(quotes) <= max_citations and quotes[0].startswith("Halvorsen Motors")  # the name first
    assert max_citations == 1 or quotes[1].startswith("The carmaker said")  # then the sentence it answers


def test_she_is_the_person_just_named():
    question = "Who said 900 firefighters were working in shifts?"
    candidates = passage(
        question,
        "Wildfires spread across Tarsia on Friday.",
        "Tarsia declared a state of emergency.",
        '"The wind is our biggest enemy," said fire chief Elena Markos.',
        "She said more than 900 firefighters were working in shifts.",
    )
    quote = first_quote(candidates, question)
    assert quote.startswith('"The wind is our biggest enemy," said fire chief Elena Markos.')


def test_a_sentence_calling_the_asked_for_operator_the_operator_reaches_back_though_it_names_a_city():
    question = "Which operator carries 310,000 passengers a day?"
    candidates = passage(
        question,
        "Drivers at Ridgeway Rail will strike over pay.",
        "The operator runs services between Alderbrook and 46 towns, carrying 310,000 passengers a day.",
    )
    assert candidates[-1].typed  # "Alderbrook"
    quote = first_quote(candidates, question)
    assert quote.startswith("Drivers at Ridgeway Rail")


def test_a_sentence_naming_what_was_asked_is_quoted_alone():
    question = "Which airline carries 310,000 passengers a day?"
    candidates = passage(question, "Drivers at Ridgeway Rail will strike over pay.", "Kestrel Air carries 310,000 passengers a day.")
    assert first_quote(candidates, question) == "Kestrel Air carries 310,000 passengers a day."


def test_with_nothing_named_before_it_the_sentence_is_quoted_with_the_neighbour_that_names_the_answer():
    question = "Which company recalled 48,700 vans?"
    candidates = passage(question, "The company said the recall covers 48,700 vans built since May.",
                         "Shares in Halvorsen Motors fell 3.8% after the announcement.", best=0)
    assert first_quote(candidates, question) == " ".join(c.text for c in candidates)


@pytest.mark.parametrize(("before", "quoted_from"), [
    # Nothing named: "The ministry" is the health ministry described a sentence before.
    ("The health ministry urged older people to stay indoors.", "The health ministry urged"),
    # The same short description says no more.
    ("The ministry urged older people to stay indoors.", "The ministry also said"),
])
def test_with_nothing_named_a_short_description_reaches_back_to_a_fuller_one(before, quoted_from):
    question = "Which government body said heat-related emergency calls had tripled?"
    candidates = passage(question, "Two firefighters were treated in hospital for smoke inhalation.", before,
                         "The ministry also said emergency calls related to heat had tripled since Monday.")
    quote = first_quote(candidates, question)
    assert quote.startswith(quoted_from) and quote.endswith("since Monday.")


@pytest.mark.parametrize(("question", "best", "going_on"), [
    ("What was the Anglo-Norman language's final form?",
     "The Anglo-Norman language was eventually absorbed into the Anglo-Saxon language of their subjects.",
     "It in turn evolved into Modern English."),
    # An editor's bracket opens a quotation's continuation as the word itself does.
    ("How does Wallace hope to resolve the issues?",
     '"I hope that by speaking today we can resolve a number of issues," Wallace said.',
     '"[That] we can resolve our issues together through diplomacy," he added.'),
])
def test_the_sentence_going_on_from_the_best_one_is_quoted_with_it(question, best, going_on):
    candidates = passage(question, best, going_on, "Norman architecture typically stands out as a new stage.", best=0)
    assert first_quote(candidates, question).endswith(going_on)


def test_a_following_sentence_about_something_else_is_left_out():
    question = "What was the Anglo-Norman language's final form?"
    candidates = passage(
        question,
        "The Anglo-Norman language was eventually absorbed into the Anglo-Saxon language of their subjects.",
        "Norman architecture typically stands out as a new stage.",
        best=0,
    )
    assert first_quote(candidates, question) == candidates[0].text


def test_a_best_sentence_going_on_from_the_one_before_is_quoted_with_it():
    question = "What did the language become?"
    candidates = passage(
        question,
        "Norman architecture typically stands out as a new stage.",
        "The Anglo-Norman language was absorbed into the Anglo-Saxon language.",
        "It in turn evolved into Modern English.",
    )
    assert first_quote(candidates, question).startswith("The Anglo-Norman language was absorbed")


def test_the_sentence_going_on_from_the_best_one_comes_before_a_close_neighbour_before_it():
    question = "By what means does Wallace hope to settle the issues?"
    candidates = passage(
        question,
        "Ben Wallace has announced Britain's readiness to discuss Russia's security proposals.",
        '"I hope that by speaking today we can resolve a number of issues," Wallace said.',
        '"[That] we can resolve our issues together through diplomacy," he added.',
        best=1,
    )
    candidates[0].dense, candidates[2].dense = 0.6, 0.55  # both close to the best one, the one before closer
    quote = first_quote(candidates, question)
    assert quote.startswith('"I hope that by speaking today') and quote.endswith("through diplomacy,\" he added.")
