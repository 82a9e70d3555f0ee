"""Development sweep of the answerer's weights and thresholds, on the development sets only.

Answerable SQuAD 2.0 (first five articles) questions measure quote accuracy and false
abstention; off-topic questions (the seed questions asked of the SQuAD corpus, and the
SQuAD questions asked of the seed corpus) measure abstention. Candidates are computed once
per question; each setting only re-scores them.

    python bench/tune_answerer.py
"""

from __future__ import annotations

import itertools
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from retrieval.answering import AnswerSettings  # noqa: E402
from retrieval.chain import Engine  # noqa: E402
from retrieval.evaluation import MAX_QUOTE_CHARS, contains_answer, load_questions  # noqa: E402
from retrieval.ingest import ingest  # noqa: E402
from retrieval.settings import Settings  # noqa: E402

EVAL = ROOT.parent / "shared" / "eval"
SQUAD, SEED = EVAL / "squad-v2.0-dev-first5.json", EVAL / "seed_dev.jsonl"


def cached_candidates(engine: Engine, corpus: str, questions) -> list:
    retriever, answerer = engine.corpus(corpus)
    out = []
    for q in questions:
        vector = engine.embeddings.query_vector(q.question)
        passages = retriever.invoke(q.question)
        out.append((q, answerer.candidates(q.question, vector, passages, retriever.lexical())))
    return out


def main() -> None:
    settings = Settings(data_dir=ROOT / "bench" / ".cache" / "tune-answerer")
    engine = Engine(settings)
    ingest([str(SQUAD)], "squad", settings, embeddings=engine.embeddings, progress=False)
    ingest([str(ROOT / "corpus")], "seed", settings, embeddings=engine.embeddings, progress=False)
    squad_qs = load_questions(SQUAD)
    answerable = cached_candidates(engine, "squad", [q for q in squad_qs if q.answerable])
    impossible = cached_candidates(engine, "squad", [q for q in squad_qs if not q.answerable])
    seed = cached_candidates(engine, "seed", [q for q in load_questions(SEED)])
    off_topic = cached_candidates(engine, "squad", load_questions(SEED)) + cached_candidates(
        engine, "seed", [q for q in squad_qs if q.answerable]
    )
    _, answerer = engine.corpus("squad")
    grid = {
        "lexical_weight": [0.2, 0.3, 0.4, 0.6, 0.8],
        "rank_weight": [0.0, 0.05, 0.1, 0.2],
        "pair_ratio": [0.7, 0.75, 0.8, 0.85, 0.9, 1.01],
    }
    for values in itertools.product(*grid.values()):
        answerer.settings = AnswerSettings(**dict(zip(grid, values)), min_confidence=-9)
        hits = 0
        for q, cands in answerable:
            quotes = answerer.select(cands)
            text = _quote_text(quotes)
            hits += len(text) <= MAX_QUOTE_CHARS and contains_answer(text, q.expect)
        seed_ok = sum(contains_answer(_quote_text(answerer.select(c)), q.expect) for q, c in seed if q.answerable)
        print(json.dumps({**dict(zip(grid, values)), "quote_accuracy": round(hits / len(answerable), 4), "seed": seed_ok}))
    # The abstention threshold, at the default weights: what each costs in false abstention.
    for min_confidence in (0.5, 0.52, 0.54, 0.56, 0.58, 0.6, 0.62, 0.64, 0.66):
        answerer.settings = AnswerSettings(min_confidence=min_confidence)
        rate = lambda runs: round(sum(not answerer.select(c) for _, c in runs) / len(runs), 4)  # noqa: E731
        print(json.dumps({"min_confidence": min_confidence, "false_abstention": rate(answerable),
                          "off_topic_abstention": rate(off_topic), "squad2_impossible_abstention": rate(impossible),
                          "seed_unanswerable_abstention": rate([(q, c) for q, c in seed if not q.answerable])}))


def _quote_text(quotes) -> str:
    if not quotes:
        return ""
    first = quotes[0]
    meta = first[0].passage.metadata
    return first[0].passage.page_content[first[0].span.start - meta["start"] : first[-1].span.end - meta["start"]]


if __name__ == "__main__":
    main()
