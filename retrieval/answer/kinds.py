"""What a question asks for, and whether a sentence holds it: cheap English heuristics.

"Who recalled the vans?" wants a name; "when" a date; "how many" a number. The sentence that
best paraphrases such a question often refers to the answer as "the company" or "she",
while the name is in the sentence before. A sentence that holds something of the asked-for
kind that the question does not already say is more likely the answer.

Heuristics rather than a named-entity model: spaCy's small English model was measured at
2.6 s to import and about 25k characters a second here, which would double a cold `qa ask`
and halve ingest; capitalisation, digits and date words carry most of the signal in news.
"""

from __future__ import annotations

import re

NAME, NUMBER, DATE = "name", "number", "date"

_NAME_NOUNS = (
    "company|firm|carmaker|automaker|maker|manufacturer|retailer|bank|airline|brand|group|organi[sz]ation|agency|"
    "ministry|department|party|union|team|club|side|country|nation|city|town|village|state|province|region|county|"
    "island|river|lake|mountain|street|university|college|school|hospital|newspaper|paper|broadcaster|network|channel|"
    "show|series|film|movie|book|novel|album|song|band|festival|event|award|prize|person|man|woman|player|official|"
    "minister|president|leader|chief|executive|ceo|founder|actor|actress|singer|artist|author|writer|director|coach|"
    "manager|mayor|judge|scientist|researcher|spokesperson|spokesman|spokeswoman|rival|opponent|winner|champion|"
    "candidate|lawmaker|senator|governor|king|queen|emperor|duke|general|architect|inventor|composer|poet|painter|"
    "court|council|committee|court|body|regulator|watchdog|insurer|startup|operator|developer|studio|publisher|label|"
    "museum|stadium|venue|port|airport|station|building|ship|vessel|planet|moon|spacecraft|mission|language|dynasty|"
    "tribe|people|church|religion|empire|kingdom|republic|family|house"
)
_QUESTION_KINDS = [
    (DATE, re.compile(r"\b(when|what (year|month|day|date|time|decade|century|season)|which (year|month|day|date|"
                      r"decade|century|season)|in what (year|month|decade|century)|how long ago|since when)\b")),
    (NUMBER, re.compile(r"\bhow (many|much|old|long|far|big|large|tall|high|deep|heavy|fast|often|wide)\b|"
                        r"\bwhat (is |was |are |were )?(the )?(percentage|percent|share|proportion|number|amount|sum|price|"
                        r"cost|figure|rate|total|age|size|distance|population|value|score)\b")),
    (NAME, re.compile(r"\b(who|whom|whose|where)\b|\b(which|what|name the|in what|in which|at what|at which|from what|"
                      rf"from which|for what|for which|by what|by which)\s+(\w+\s+)?({_NAME_NOUNS})s?\b")),
]
_MONTHS = ("january|february|march|april|may|june|july|august|september|october|november|december|"
           "jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec")
_DAYS = "monday|tuesday|wednesday|thursday|friday|saturday|sunday"
_DATE_WORDS = re.compile(rf"\b({_MONTHS}|{_DAYS}|today|yesterday|tomorrow|tonight|weekend|"
                         r"(1[0-9]|20)\d\d|\d{1,2}(st|nd|rd|th)|\d{4}s|(last|next|this) (week|month|year)|"
                         r"(early|late|mid)-?\d{4}|century|decade)\b", re.IGNORECASE)
_NUMBER_WORDS = re.compile(r"\d[\d,.]*\d|\d|\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|"
                           r"forty|fifty|sixty|seventy|eighty|ninety|hundred|thousand|million|billion|trillion|dozen|"
                           r"half)\b", re.IGNORECASE)
_CAPITALISED = re.compile(r"\b[A-Z][\w'’.-]*[A-Za-z]|\b[A-Z]{2,}\b")
# Capitalised words that are not names: sentence openers, pronouns, titles, calendar words.
_NOT_NAMES = frozenset((
    "the a an this that these those he she it they we i you his her its their our my your there here then when "
    "what who which where why how but and or if in on at by for from to of with as after before during while since "
    "also however meanwhile still yet according last next mr mrs ms dr prof sir st earlier later today yesterday "
    "tomorrow officials police " + _MONTHS.replace("|", " ") + " " + _DAYS.replace("|", " ")
).split())
_WORD = re.compile(r"\w+")


_WH = re.compile(r"\b(what|which|who|whom|whose|where|when|how|why)\b")


def expected_kind(question: str) -> str | None:
    """NAME, NUMBER, DATE, or None when the question does not ask for one of them.

    The question's first wh-word decides (with a preposition before it: "in what year"):
    "Who was hurt when the pallet fell?" wants a name, and "What document did he cite when
    ..." no date."""
    text = question.casefold()
    first = _WH.search(text)
    for kind, pattern in _QUESTION_KINDS:
        found = pattern.search(text)
        if found and (first is None or found.start() <= first.start()):
            return kind
    return None


def holds_kind(text: str, kind: str | None, question: str) -> bool:
    """Whether `text` holds something of `kind` that `question` does not already say."""
    if kind is None:
        return False
    asked = {w.casefold() for w in _WORD.findall(question)}
    if kind == NAME:
        return any(_is_new_name(m.group(0), asked) for m in _CAPITALISED.finditer(text))
    pattern = _DATE_WORDS if kind == DATE else _NUMBER_WORDS
    asked |= {m.group(0).casefold() for m in pattern.finditer(question)}
    return any(m.group(0).casefold() not in asked for m in pattern.finditer(text))


def _is_new_name(word: str, asked: set[str]) -> bool:
    key = word.casefold().strip(".'’-")
    if "-" in key and word.rsplit("-", 1)[-1].islower():  # "Dublin-based", "UK-led": describes, names nobody
        return False
    return key not in _NOT_NAMES and key not in asked and not any(part in asked for part in key.split("-"))


_ANAPHOR = re.compile(
    r"^[\"“]?(?:(?:he|she|they|it|his|her|their|its)\b|(?:the|this|that)\s+(?:[\w'’-]+\s+){0,3}?"
    rf"(?:(?:{_NAME_NOUNS})s?|\d+-year-old)\b)", re.IGNORECASE)


def opens_with_anaphor(text: str) -> bool:
    """Whether the sentence's subject refers back ("The company said ...", "She added ...",
    "The 24-year-old ..."): the name it stands for is in an earlier sentence."""
    return _ANAPHOR.match(text) is not None


_NEGATION = re.compile(r"\b(not|never|no|none|nobody|nothing|neither|nor|without|cannot)\b|n't\b", re.IGNORECASE)


def negated(text: str) -> bool:
    return _NEGATION.search(text) is not None
