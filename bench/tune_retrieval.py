"""Development sweep of the fusion settings, on the development parts of the sets only,
each asked alone and mixed (corpora built by bench/quality.py). Both rankings are computed
once per question; each setting only re-fuses them. Prints recall@5 per set beside each
side alone.

    .venv/bin/python bench/tune_retrieval.py
"""

from __future__ import annotations

import itertools
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.eval_sets import eval_sets  # noqa: E402
from bench.quality import CACHE  # noqa: E402
from retrieval import Engine, Settings, contains_answer, load_questions, terms  # noqa: E402


def main() -> None:
    engine = Engine(Settings(data_dir=CACHE / "data"))
    runs = {}
    for s in eval_sets():
        questions = [q for q in load_questions(s.dev) if q.answerable]
        for layout in ("alone", "mixed"):
            retriever, _ = engine.corpus(f"{s.name}-{layout}")
            texts = {pid: text for pid, text, _ in retriever.store.iter_passages()}
            lexical = retriever.lexical()
            rows = []
            for q in questions:
                dense, _ = retriever._dense(engine.embeddings.query_vector(q.question))
                rows.append((q, dense, lexical.search(terms(q.question), retriever.candidates), texts))
            runs[f"{s.name}-{layout}"] = (retriever, rows)

    def recall(retriever, rows, **update) -> float:
        variant = retriever.model_copy(update=update)
        hits = 0
        for q, dense, lexical, texts in rows:
            fused = variant.fuse(dense, lexical)
            top = sorted(fused, key=fused.__getitem__, reverse=True)[:5]
            hits += any(contains_answer(texts[p], q.expect) for p in top if p in texts)
        return round(hits / len(rows), 4)

    sides = {name: {"bm25": recall(r, rows, dense_weight=0.0), "dense": recall(r, rows, lexical_weight=0.0)}
             for name, (r, rows) in runs.items()}
    print(json.dumps(sides))
    for rrf_k, weight in itertools.product((10, 20, 60), (0.5, 0.75, 1.0, 1.5, 2.0)):
        update = {"rrf_k": rrf_k, "lexical_weight": weight}
        print(json.dumps({**update, **{name: recall(r, rows, **update) for name, (r, rows) in runs.items()}}))


if __name__ == "__main__":
    main()
