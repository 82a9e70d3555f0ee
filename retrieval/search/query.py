"""What a question asks of the corpus, without the words it spends on the corpus itself or on
asking.

People ask a document bot in Slack "Hi, can you tell me what Shoigu asked Wallace?" or "Who is
his counterpart, according to the article? Thanks!". "Article" says where to look, "can you
tell me" and "thanks" how it is asked; none says what to look for. Read as terms, they are
words the corpus may never use (the abstention reads a question about something else) and
words every passage lacks (the similarity falls with them). So they are left out of what is
searched and scored; the question shown is the one typed.
"""

from __future__ import annotations

import re

# Words for the corpus; "story" and "report" are also what news is about ("a UN report"), so
# they count only as a whole clause at either end of the question, as the others do.
_NOUN = r"(?:news\s+)?(?:article|text|document|passage|corpus|story|report|source|doc)s?"
_OWN_NOUN = r"(?:article|text|document|passage|corpus)s?"
_THIS = r"(?:this|these|the\s+given|the\s+above|the\s+provided)"  # only the corpus: "in this text"
_THE = rf"(?:the|that|those|your|{_THIS})"
_ACCORDING = rf"(?:according\s+to|based\s+on|per|going\s+by|as\s+(?:said|stated|described|reported|mentioned)\s+in)\s+{_THE}\s+{_NOUN}"
# "According to the article, what ...?" and "What ..., according to the article?" or "in this
# document?": a clause of its own at either end. At the end, "in" only with "this" or
# "these": "What was found in the report?" asks about a report.
_LEADING = re.compile(rf"^\s*(?:{_ACCORDING}|(?:in|from)\s+{_THE}\s+{_NOUN})\s*[,:]\s*", re.IGNORECASE)
_TRAILING = re.compile(rf",?\s+(?:{_ACCORDING}|(?:in|from)\s+{_THIS}\s+{_NOUN})"
                       r"(?=\s*[?.!]*\s*$)", re.IGNORECASE)
# "What does the article say Shoigu asked?", "Does the text mention who ...?"
_SAYS = re.compile(rf"\b(?:does|do|did)\s+{_THE}\s+{_OWN_NOUN}\s+(?:say|mention|state|tell\s+us|claim|describe)\s+", re.IGNORECASE)

# How it is asked: a greeting or "quick question:", a request to be told, thanks.
_OPENING = re.compile(r"^\s*(?:(?:hi|hello|hey|hiya|good\s+(?:morning|afternoon|evening))(?:\s+(?:there|all|team|everyone|bot))?"
                      r"|quick\s+question)\s*[,.!:;-]+\s*", re.IGNORECASE)
_REQUEST = re.compile(
    r"^\s*(?:please\s+)?(?:"
    r"(?:can|could|would|will)\s+you\s+(?:please\s+)?(?:tell|show|let)\s+me(?:\s+know)?"
    r"|tell\s+me|do\s+you\s+know|does\s+anyone\s+know"
    r"|i(?:'d|\s+would)\s+like\s+to\s+know|i\s+(?:want|need)\s+to\s+know|i(?:'m|\s+am|\s+was)\s+(?:wondering|curious)(?:\s+about)?"
    r")\s*[,:]?\s+", re.IGNORECASE)
# "please" only after a mark: "... vote as they please?" is a question.
_THANKS = re.compile(r"(?:[,.!?]\s*please|(?:[,.!?]\s*|\s+)(?:thanks|thank\s+you|thx|cheers)(?:\s+(?:so\s+much|a\s+lot|in\s+advance))?)"
                     r"\s*[.!?]*\s*$", re.IGNORECASE)


def asked(question: str) -> str:
    """`question` without a greeting, a request to be told or thanks, and without a clause
    naming the corpus it is asked of; the question itself when that would leave nothing."""
    rest = _THANKS.sub(lambda m: "?" if "?" in m.group() else "", question)
    rest = _REQUEST.sub("", _OPENING.sub("", _OPENING.sub("", rest)))  # "Hi! Quick question: ..."
    rest = _SAYS.sub("", _TRAILING.sub("", _LEADING.sub("", rest)))
    if not re.search(r"\w", rest):
        return question
    return rest[0].upper() + rest[1:] if rest[0].islower() and question.lstrip()[:1].isupper() else rest
