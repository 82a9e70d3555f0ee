"""Finding a model's quote in the passage it cites, down to exact character offsets.

A quote counts as verbatim when it occurs in the passage exactly, or after folding the
differences a model introduces without changing a word: runs of white space, quote marks
(curly or straight, single or double: models swap `'` and `"`), apostrophes, and the
various dashes. Failing that, the two changes quoting itself makes at a quote's edges are
undone: a capital first letter for a quote taken from mid-sentence, and a full stop (or
other mark) at its end for the comma the source went on after. Last, the one mark house
styles place differently is read either way: a comma or full stop inside a closing quote
mark or after it ('becoming "more and more tense," stressing' quoted as 'becoming "more and
more tense", stressing'). Case, spelling, other punctuation and elisions ("...") are not
folded: a quote that differs in those is not the source's words. What is shown is always the
passage's own text at the offsets found.
"""

from __future__ import annotations

import re

# Every quote mark folds to "'": a model that writes 'yes' for "yes" copied the words.
_FOLD = str.maketrans({
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'", "`": "'",
    '"': "'", "\u201c": "'", "\u201d": "'", "\u201e": "'", "\u201f": "'", "\u2033": "'", "\u00ab": "'", "\u00bb": "'",
    "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2015": "-", "\u2212": "-",
    "\u00a0": " ", "\u202f": " ", "\u2009": " ",
})
_WRAPPERS = "\"'\u201c\u201d\u2018\u2019\u00ab\u00bb"


def fold(text: str) -> tuple[str, list[int]]:
    """`text` folded, and for each folded character the index it came from in `text`.
    White space runs become one space; the map lets a match be turned back into offsets."""
    out: list[str] = []
    origin: list[int] = []
    for index, char in enumerate(text.translate(_FOLD)):
        if char.isspace():
            if out and out[-1] == " ":
                continue
            char = " "
        out.append(char)
        origin.append(index)
    return "".join(out), origin


def locate(quote: str, text: str) -> tuple[int, int] | None:
    """(start, end) of `quote` within `text`, or None when it is not there verbatim. The
    quote as written is looked for first (exactly, then folded), its edges undone only then,
    and a comma or full stop beside a closing quote mark read in either order last."""
    variants = _variants(quote)
    edges = _edges_undone(variants)
    folded: tuple[str, list[int]] | None = None  # the text folded once, when first needed
    for candidates in (variants, edges):
        for candidate in candidates:
            found = text.find(candidate)
            if found >= 0:
                return found, found + len(candidate)
        folded = folded or fold(text)
        if (span := _find_folded(candidates, folded)) is not None:
            return span
    return _find_folded(variants + edges, folded, marks_moved=True)


def _find_folded(candidates: list[str], folded: tuple[str, list[int]], marks_moved: bool = False) -> tuple[int, int] | None:
    """The first candidate found in the folded text, as offsets in the text; with
    `marks_moved`, in both read as `_mark_first` reads them."""
    folded_text, origin = _mark_first(folded) if marks_moved else folded
    for candidate in candidates:
        needle = fold(candidate)
        needle = (_mark_first(needle) if marks_moved else needle)[0].strip()
        if not needle:
            continue
        found = folded_text.find(needle)
        if found >= 0:
            held = origin[found : found + len(needle)]  # out of order only where marks were moved
            return min(held), max(held) + 1
    return None


def _mark_first(folded: tuple[str, list[int]]) -> tuple[str, list[int]]:
    """Folded text with every comma or full stop that stands right before a quote mark moved
    after it, each character keeping its origin: both house styles read the same. Only as a
    last resort: it would stop a slice that ends between the two from being found as is."""
    chars, origin = list(folded[0]), list(folded[1])
    for i in range(len(chars) - 1):
        if chars[i] in ",." and chars[i + 1] == "'":
            chars[i], chars[i + 1] = chars[i + 1], chars[i]
            origin[i], origin[i + 1] = origin[i + 1], origin[i]
    return "".join(chars), origin


def _variants(quote: str) -> list[str]:
    """The quote as given, and without the quotation marks a model may wrap it in."""
    quote = quote.strip()
    variants = [quote]
    if len(quote) > 2 and quote[0] in _WRAPPERS and quote[-1] in _WRAPPERS:
        variants.append(quote[1:-1].strip())
    return [v for v in variants if v]


def _edges_undone(variants: list[str]) -> list[str]:
    """Each variant with its first letter in the other case, without its final mark, and
    both: "By speaking today, we can resolve it." for '"I hope that by speaking today, we can
    resolve it," Wallace said.'"""
    undone = []
    for variant in variants:
        for end in (variant, variant[:-1].rstrip() if variant[-1] in ".,;:!?" else ""):
            if end:
                undone += [end, end[0].swapcase() + end[1:]] if end[0].isalpha() else [end]
    return [v for v in dict.fromkeys(undone) if v not in variants]


MAX_QUOTE_CHARS = 400


def clip(text: str, limit: int = MAX_QUOTE_CHARS) -> int:
    """How much of `text` a quote may show: all of it when it fits, else the longest prefix
    ending at a clause boundary (, ; : or a dash) within `limit`, else at a word boundary.
    Still the document's own words at exact offsets, never an ellipsis or a changed word."""
    if len(text) <= limit:
        return len(text)
    head = text[: limit + 1]
    for pattern in (r"[,;:\u2013\u2014](?=\s)", r"\s"):
        cuts = [m.start() + (1 if pattern != r"\s" else 0) for m in re.finditer(pattern, head)]
        cuts = [c for c in cuts if limit // 2 <= c <= limit]
        if cuts:
            return len(text[: cuts[-1]].rstrip())
    return limit


# Where a quote may begin inside a sentence: after a semicolon, colon, dash or bracket, or
# at a comma that opens a clause; never inside a list ("extensive, electrified, ...").
_CLAUSE_START = re.compile(r"(?:[;:\u2013\u2014(]|\s-)\s+(?=\S)|,\s+(?=(?:and|but|while|whereas|although|which|where|who|whose|when)\b)")


def focus(text: str, score, limit: int = MAX_QUOTE_CHARS, margin: float = 0.1) -> tuple[int, int]:
    """(start, end) of the part of `text` a quote shows: all of it when it fits, else the
    clause-bounded stretch of at most `limit` characters that `score` (a text's relevance to
    the question) rates highest; the sentence's own start unless another rates `margin`
    higher (a quote reads best from the start). A 600-character sentence whose
    answer is in its last clause is quoted from a clause on, not cut off before it."""
    if len(text) <= limit:
        return 0, len(text)
    head = clip(text, limit)
    best = (score(text[:head]) + margin, 0, head)
    for found in _CLAUSE_START.finditer(text):
        start = found.end()
        end = start + clip(text[start:], limit)
        value = score(text[start:end])
        if value > best[0]:
            best = (value, start, end)
    return best[1], best[2]


def words(text: str) -> int:
    return len(re.findall(r"\w+", text))
