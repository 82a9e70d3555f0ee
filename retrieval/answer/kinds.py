"""What a question asks for, and whether a sentence holds it: cheap English heuristics.

"Who recalled the vans?" wants a name; "when" a date; "how many" a number; "What is Ben
Wallace's role?" the title news writes beside a name ("UK Defence Chief Ben Wallace"). The
sentence that best paraphrases such a question often refers to the answer as "the company"
or "she", while the name is in the sentence before. A sentence that holds something of the
asked-for kind that the question does not already say is more likely the answer.

Heuristics rather than a named-entity model: spaCy's small English model was measured at
2.6 s to import and about 25k characters a second here, which would double a cold `qa ask`
and halve ingest; capitalisation, digits and date words carry most of the signal in news.
"""

from __future__ import annotations

import re

NAME, NUMBER, DATE, TITLE = "name", "number", "date", "title"

_NAME_NOUNS = (
    "company|firm|carmaker|automaker|maker|manufacturer|retailer|bank|airline|brand|group|organi[sz]ation|agency|"
    "ministry|department|party|union|team|club|side|country|nation|city|town|village|state|province|region|county|"
    "island|river|lake|mountain|street|university|college|school|hospital|newspaper|paper|broadcaster|network|channel|"
    "show|series|film|movie|book|novel|album|song|band|festival|event|award|prize|person|man|woman|player|official|"
    "minister|president|leader|chief|executive|ceo|founder|actor|actress|singer|artist|author|writer|director|coach|"
    "manager|mayor|judge|scientist|researcher|spokesperson|spokesman|spokeswoman|rival|opponent|winner|champion|"
    "candidate|lawmaker|senator|governor|king|queen|emperor|duke|general|architect|inventor|composer|poet|painter|"
    "court|council|committee|body|regulator|watchdog|insurer|startup|start-up|operator|developer|studio|publisher|label|"
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
                      rf"from which|for what|for which|by what|by which)\s+(\w+\s+)?({_NAME_NOUNS}|\d+-year-old)s?\b")),
    # "What position does X hold?", "What is X's role?": a title, not the person.
    (TITLE, re.compile(r"\b(what|which)\s+((is|was|are|were)\s+)?([\w'’]+\s+){0,3}?(role|position|job|title)s?\b")),
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
    """NAME, NUMBER, DATE, TITLE, or None when the question does not ask for one of them.

    The question's first wh-word decides (with a preposition before it: "in what year"):
    "Who was hurt when the pallet fell?" wants a name, and "What document did he cite when
    ..." no date."""
    text = question.casefold()
    first = _WH.search(text)
    for kind, pattern in _QUESTION_KINDS:
        found = pattern.search(text)
        if found and (first is None or found.start() <= first.start()):
            # A title is someone's: "What is the position of the satellite?" asks for no title.
            return None if kind == TITLE and not names_in(question, inner_names([question])) else kind
    return None


def holds_kind(text: str, kind: str | None, question: str, names: frozenset[str] | None = None) -> bool:
    """Whether `text` holds something of `kind` that `question` does not already say.

    `names`: the words the same document capitalises inside a sentence (`inner_names`). A
    sentence's first word is capitalised anyway, so it counts as a name only when the
    document writes it so elsewhere too: "Crunchline, founded in 1994 ..." names a company,
    "Forecasters expect ..." nobody."""
    if kind is None:
        return False
    asked = {w.casefold() for w in _WORD.findall(question)}
    if kind == TITLE:
        return _holds_title(text, question)
    if kind == NAME:
        return any(key not in asked and not any(part in asked for part in key.split("-")) for key in names_in(text, names))
    pattern = _DATE_WORDS if kind == DATE else _NUMBER_WORDS
    asked |= {m.group(0).casefold() for m in pattern.finditer(question)}
    return any(m.group(0).casefold() not in asked for m in pattern.finditer(text))


_TITLE_WORDS = (
    "chief|minister|secretary|president|director|general|governor|premier|chair|chairman|chairwoman|head|commander|"
    "ambassador|spokesman|spokeswoman|spokesperson|executive|officer|editor|manager|coach|captain|mayor|senator|judge|"
    "king|queen|prince|princess|duke|bishop|pope|professor|chancellor|leader|founder|ceo|attorney|justice|speaker|"
    "envoy|adviser|advisor|deputy|treasurer|commissioner|inspector|superintendent|marshal|admiral|colonel|sergeant"
)
# A title before a name ("UK Defence Chief Ben Wallace"), or after it ("Valery Gerasimov - the
# Chief of Russian General Staff", "Ana Ruiz, the company's chief executive").
_TITLE_BEFORE = re.compile(rf"\b(?:{_TITLE_WORDS})\s+(?:[A-Z][\w'’.-]*\s+){{0,2}}$", re.IGNORECASE)
_TITLE_AFTER = re.compile(rf"^[\w'’]*\s*(?:,|\s[-–—])\s*(?:the\s+)?(?:[\w'’]+\s+){{0,3}}?(?:{_TITLE_WORDS})\b", re.IGNORECASE)


def _holds_title(text: str, question: str) -> bool:
    """Whether `text` gives one of the question's names a title, right before or after it."""
    for name in {re.sub(r"['’]s$", "", name) for name in names_in(question)}:  # "Ruiz's job"
        for m in re.finditer(rf"\b{re.escape(name)}\b", text, re.IGNORECASE):
            if _TITLE_BEFORE.search(text[: m.start()][-60:]) or _TITLE_AFTER.match(text[m.end() :]):
                return True
    return False


def names_in(text: str, names: frozenset[str] | None = None) -> set[str]:
    """The names `text` holds (case-folded); `names` as for `holds_kind`."""
    return {_key(m.group(0)) for m in _name_matches(text, names)}


def name_phrases(text: str, names: frozenset[str] | None = None) -> set[str]:
    """The names `text` holds as whole phrases ("ridgeway rail", not "rail"): runs of
    capitalised words, each one a name as `names_in` counts them."""
    phrases, run, end = set(), [], -1
    for m in _name_matches(text, names):
        if run and text[end:m.start()].strip():
            phrases.add(" ".join(run))
            run = []
        run.append(_key(m.group(0)))
        end = m.end()
    if run:
        phrases.add(" ".join(run))
    return phrases


def _name_matches(text: str, names: frozenset[str] | None):
    """The capitalised words of `text` that are names: not a title or calendar word, and,
    given the document's `names`, not a sentence's first word it never capitalises elsewhere."""
    first = _first_letter(text)
    for m in _CAPITALISED.finditer(text):
        word = m.group(0)
        if _is_name(word) and (names is None or m.start() > first or _key(word) in names):
            yield m


def inner_names(texts) -> frozenset[str]:
    """The capitalised words of `texts` (one document's sentences) past each one's first word."""
    return frozenset(_key(m.group(0)) for text in texts for m in _CAPITALISED.finditer(text)
                     if m.start() > _first_letter(text))


def _first_letter(text: str) -> int:
    found = re.search(r"[^\W\d_]", text)
    return found.start() if found else 0


def _key(word: str) -> str:
    return word.casefold().strip(".'’-")


def _is_name(word: str) -> bool:
    key = _key(word)
    if "-" in key and word.rsplit("-", 1)[-1].islower():  # "Dublin-based", "UK-led": describes, names nobody
        return False
    return key not in _NOT_NAMES


_ANAPHOR = re.compile(
    r"^[\"“]?(?:(?:he|she|they|it|his|her|their|its)\b|(?:the|this|that)\s+(?:[\w'’-]+\s+){0,3}?"
    rf"(?:(?P<noun>{_NAME_NOUNS})s?|\d+-year-old)\b)", re.IGNORECASE)


def opens_with_anaphor(text: str, question: str = "") -> bool:
    """Whether the sentence's subject refers back ("The company said ...", "She added ...",
    "The 24-year-old ..."): the name it stands for is in an earlier sentence. Not when the
    question names that thing itself: "Who used the church?" answered by "The church was
    used by the dukes"."""
    found = _ANAPHOR.match(text)
    if found is None:
        return False
    noun = found.group("noun")
    return noun is None or noun.casefold() not in {w.casefold() for w in _WORD.findall(question)}


def describes_more_fully(earlier: str, text: str) -> bool:
    """Whether `earlier` mentions the thing `text` opens with ("The ministry said ...") by
    the same noun with more words before it ("The health ministry urged ..."): the
    document's fuller description of what the short one refers back to."""
    found = _ANAPHOR.match(text)
    if found is None or found.group("noun") is None:
        return False
    noun = re.escape(found.group("noun"))
    return re.search(rf"\b(?:[Tt]he|[Aa]n?|[Ii]ts|[Tt]heir|[Hh]is|[Hh]er)\s+(?:[\w'’-]+\s+){{1,3}}{noun}s?\b", earlier) is not None


_ASKED_NOUN = re.compile(rf"\b(?:which|what)\s+(?:\w+\s+)?({_NAME_NOUNS}|\d+-year-old)s?\b")


def refers_to_asked(text: str, question: str) -> bool:
    """Whether `text` calls the thing a "which carmaker" question asks for "the carmaker":
    then it names it elsewhere, even when it names other things ("The operator runs
    services between Alderbrook and 46 towns")."""
    asked = _ASKED_NOUN.search(question.casefold())
    if asked is None:
        return False
    noun = re.escape(asked.group(1))
    for found in re.finditer(rf"\b(?:[Tt]he|[Tt]his|[Tt]hat)\s+(?:[a-z0-9'’-]+\s+){{0,2}}?{noun}s?\b", text):
        # Not "the river Seine", "the island of Oahu", nor "Los Angeles International Airport, the busiest airport":
        # there the phrase stands beside the name.
        if not re.match(r"\s+(?:(?:of|called|named)\s+)?[\"“'‘]?[A-Z]", text[found.end():]) and not text[: found.start()].rstrip().endswith(","):
            return True
    return False


_PRONOUN = re.compile(r"^[\"“]?(?:he|she|they|his|her|their)\b", re.IGNORECASE)


def opens_with_pronoun(text: str) -> bool:
    """"She said ...": the person named just before, not whom the document is about."""
    return _PRONOUN.match(text) is not None


# An editor's "[That]" opens a quotation's continuation too.
_CONTINUES = re.compile(r"^[\"“]?\[?(?:it|its|they|their|he|she|his|her|this|these|that|those)\b", re.IGNORECASE)


def continues(text: str) -> bool:
    """Whether the sentence goes on from the one before it ("It in turn evolved into Modern
    English."): what it says is about that sentence's subject, whose words it does not repeat."""
    return _CONTINUES.match(text) is not None


# Whose words a question asks about: "according to Shoigu", "in Shoigu's view", "What did the
# Russian minister say ...?".
_SPEAKER = (
    re.compile(r"\baccording to ((?:[\w'’-]+\s*){1,4}?)[?.!]*$", re.IGNORECASE),
    re.compile(r"\bin ((?:[\w'’-]+\s+){0,3}?[\w-]+)['’]s? (?:view|opinion|words|eyes|account)\b", re.IGNORECASE),
    re.compile(r"\b(?:did|does|do|has|have|had)\s+((?:[\w'’-]+\s+){1,4}?)(?:say|said|tell|told|claim|argue|warn|suggest|"
               r"describe|call|mention)\b", re.IGNORECASE),
)


def speaker(question: str) -> str:
    """The words of `question` that name whose statement it asks about ("Shoigu" in "How good
    is cooperation, according to Shoigu?"), or ""."""
    return " ".join(found.group(1) for pattern in _SPEAKER for found in pattern.finditer(question))


_NEGATION = re.compile(r"\b(not|never|no|none|nobody|nothing|neither|nor|without|cannot)\b|n't\b", re.IGNORECASE)


def negated(text: str) -> bool:
    return _NEGATION.search(text) is not None
