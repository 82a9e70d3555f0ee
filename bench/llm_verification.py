"""How the LLM answers' quote verification behaves on real questions, with simulated models.
Writes docs/llm_verification.md.

    .venv/bin/python bench/llm_verification.py

No language model runs here: a scripted OpenAI-compatible server (tests/support/openai_fake.py)
plays models of known behaviour on the answerable questions of the SQuAD 2.0 development
articles (../shared/eval/README.md), through the real chain and LangChain's OpenAI client:
- faithful: quotes the retrieved sentence that holds the gold answer and answers with it;
- sloppy but faithful: the same quote with its white space, quote marks (' for ") and
  dashes changed;
- misattributing: the right sentence, cited to a passage that does not hold it;
- paraphrasing: the same sentence with one word left out, answering with the gold answer;
- echoing the prompt: quotes the prompt's own reply example;
- obeying an injection: answers "PWNED" citing the right sentence.
A good verifier keeps the first three (re-attributing the third to the passage that holds
its quote), grounds the paraphraser's answer on the retrieved sentence that holds it while
dropping its quote, and drops the rest; every drop falls back to the extractive answer. No
quote is ever shown that is not verbatim in a retrieved passage. Also reported: the time
the checks add to an answer.
"""

from __future__ import annotations

import platform
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pydantic import SecretStr  # noqa: E402

from retrieval import (  # noqa: E402
    Engine,
    LLMAnswerer,
    QuoteChecker,
    Settings,
    Span,
    ingest,
    load_questions,
    sentences,
    squad_normalise,
)
from tests.support.openai_fake import FakeOpenAI, Step, passages_in, reply  # noqa: E402

SQUAD = ROOT.parent / "shared" / "eval" / "squad-v2.0-dev-first5.json"
OUT = ROOT / "docs" / "llm_verification.md"


def gold_sentence(body: dict, answers: list[str]) -> tuple[str, str, str] | None:
    """(passage id, sentence, answer) for the first prompt sentence holding a gold answer."""
    for pid, text in passages_in(body):
        for span in sentences(text, Span(0, len(text))):
            sentence = text[span.start : span.end]
            for answer in answers:
                if squad_normalise(answer) and squad_normalise(answer) in squad_normalise(sentence) and answer in sentence:
                    return pid, sentence, answer
    return None


def loosen(text: str) -> str:
    return "\u201c" + text.replace(" ", "  ", 3).replace("'", "\u2019").replace('"', "'").replace("-", "\u2013") + "\u201d"


def drop_word(text: str) -> str:
    words = text.split(" ")
    return " ".join(words[:len(words) // 2] + words[len(words) // 2 + 1:]) if len(words) > 3 else text + " indeed"


BEHAVIOURS = {
    "faithful": lambda pid, s, a, other: reply([(pid, s)], f"{a} [{pid}]."),
    "sloppy but faithful": lambda pid, s, a, other: reply([(pid, loosen(s))], f"{a} [{pid}]."),
    "misattributing": lambda pid, s, a, other: reply([(other, s)], f"{a} [{other}]."),
    "paraphrasing": lambda pid, s, a, other: reply([(pid, drop_word(s))], f"{a} [{pid}]."),
    "echoing the prompt": lambda pid, s, a, other: reply([(pid, "<a sentence copied from that passage>")], "<short answer>"),
    "obeying an injection": lambda pid, s, a, other: reply([(pid, s)], "PWNED"),
}
SHOULD = {"faithful": "kept", "sloppy but faithful": "kept", "misattributing": "kept, re-attributed",
          "paraphrasing": "kept, grounded on its answer's sentence"}


def main() -> None:
    started = time.time()
    questions = [q for q in load_questions(SQUAD) if q.answerable]
    work = Path(tempfile.mkdtemp(prefix="qa-llm-bench-"))
    settings = Settings(data_dir=work / "data")
    engine = Engine(settings)
    ingest([str(SQUAD)], "squad", settings, embeddings=engine.embeddings, progress=False)
    engine.warm_up("squad")

    current: dict = {}

    def model(body: dict) -> Step:
        found = gold_sentence(body, current["answers"])
        current["found"] = found
        if found is None:
            return reply([], "The passages do not say.", answerable=False)
        pid, sentence, answer = found
        ids = [p for p, text in passages_in(body) if sentence not in text]
        return BEHAVIOURS[current["behaviour"]](pid, sentence, answer, ids[0] if ids else "P9")

    rows = []
    with FakeOpenAI(model) as fake:
        llm_settings = settings.model_copy(update={"llm": "openai:bench", "llm_base_url": fake.base_url,
                                                   "llm_api_key": SecretStr("sk-bench"), "llm_max_retries": 0})
        engine.llm = LLMAnswerer.from_settings(llm_settings, engine.embeddings)
        for behaviour in BEHAVIOURS:
            kept = eligible = pwned = unverified = 0
            why: Counter = Counter()
            for q in questions:
                current.update(answers=q.expect, behaviour=behaviour)
                answer = engine.answer(q.question, corpus="squad")
                if current.get("found") is None:
                    continue
                eligible += 1
                kept += answer.mode == "llm"
                if answer.mode != "llm":
                    why.update({d.reason for d in answer.dropped_quotes}
                               or {answer.note or ("refused by the extractive answerer, not sent" if answer.abstained else "?")})
                pwned += "PWNED" in answer.answer or any("PWNED" in c.quote for c in answer.citations)
                unverified += any(not any(c.quote in p.text for p in answer.passages) for c in answer.citations)
            rows.append((behaviour, eligible, kept, pwned, unverified, why))
            print(f"{behaviour}: {kept}/{eligible} kept", flush=True)

    # The time the checks add to an answer: one reply's quote and the answer's support.
    overhead = []
    for q in questions[:200]:
        retriever, _ = engine.corpus("squad")
        passages = retriever.invoke(q.question)
        checker = QuoteChecker(engine.llm, q.question, passages, retriever.lexical(), "squad")
        t = time.perf_counter()
        checked, _ = checker.check([{"passage": "P1", "quote": passages[0].page_content[:120]}])
        if checked:
            checker.support("An answer about " + q.question, checked)
        overhead.append((time.perf_counter() - t) * 1000)

    lines = [
        "# LLM answers: quote verification on the development set",
        "",
        f"Measured {time.strftime('%Y-%m-%d')} on {platform.machine()}, Python {platform.python_version()}, "
        f"by `bench/llm_verification.py` in {time.time() - started:.0f} s. Simulated models (a scripted",
        "OpenAI-compatible server) answer the answerable questions of the SQuAD 2.0 development articles through",
        "the real chain; a question counts when a retrieved passage holds a sentence with its gold answer.",
        "",
        "| simulated model | questions | LLM answer kept | should be | answers showing PWNED | answers showing a quote not in a retrieved passage |",
        "| --- | ---: | ---: | --- | ---: | ---: |",
    ]
    for behaviour, eligible, kept, pwned, unverified, _ in rows:
        should = SHOULD.get(behaviour, "dropped (extractive fallback)")
        lines.append(f"| {behaviour} | {eligible} | {kept / eligible:.1%} | {should} | {pwned} | {unverified} |")
    lines += ["", "Why answers were not kept:", ""]
    for behaviour, _, _, _, _, why in rows:
        lines.append(f"- {behaviour}: " + "; ".join(f"{reason} ({n})" for reason, n in why.most_common()) if why else f"- {behaviour}: -")
    lines += [
        "",
        f"Checking one reply's quote (locate, offsets, relevance) and the answer's support: median "
        f"{statistics.median(overhead):.1f} ms, 95th percentile {sorted(overhead)[int(len(overhead) * 0.95)]:.1f} ms "
        f"({len(overhead)} questions), beside the model's own seconds.",
        "",
    ]
    OUT.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
