"""Development sweep of passage size and fusion settings on the development sets only
(../shared/eval/squad-v2.0-dev-first5.json). Prints recall@k for each setting.

    python bench/tune_retrieval.py [--windows 400,600,800]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from retrieval.embeddings import SentenceEmbeddings  # noqa: E402
from retrieval.evaluation import contains_answer, load_questions  # noqa: E402
from retrieval.ingest import ingest  # noqa: E402
from retrieval.lexical import lexical_index, terms  # noqa: E402
from retrieval.settings import Settings  # noqa: E402
from retrieval.store import CorpusStore, open_client  # noqa: E402

DEV = Path(__file__).resolve().parents[2] / "shared" / "eval" / "squad-v2.0-dev-first5.json"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--windows", default="400,600,800")
    parser.add_argument("--cache", default="bench/.cache/tune")
    args = parser.parse_args()
    questions = [q for q in load_questions(DEV) if q.answerable]
    embeddings = SentenceEmbeddings()
    vectors = embeddings.encode([q.question for q in questions])
    for window in map(int, args.windows.split(",")):
        settings = Settings(data_dir=Path(args.cache) / f"w{window}", window_chars=window)
        ingest([str(DEV)], "dev", settings, embeddings=embeddings, progress=False)
        store = CorpusStore(open_client(settings), settings, "dev", embeddings.name)
        lexical = lexical_index(store, settings.data_dir / "lexical")
        texts = {pid: text for pid, text, _ in store.iter_passages()}
        runs = []
        for q, v in zip(questions, vectors):
            hits = store.passages.query(query_embeddings=[v], n_results=40, include=[])["ids"][0]
            lex = [pid for pid, _ in lexical.search(terms(q.question), 40)]
            runs.append((q, hits, lex))
        for rrf_k in (10, 30, 60):
            for lw in (0.5, 1.0, 1.5, 2.0):
                for k in (5,):
                    hits = 0
                    for q, dense, lex in runs:
                        fused: dict[str, float] = {}
                        for r, pid in enumerate(dense):
                            fused[pid] = fused.get(pid, 0) + 1 / (rrf_k + r + 1)
                        for r, pid in enumerate(lex):
                            fused[pid] = fused.get(pid, 0) + lw / (rrf_k + r + 1)
                        top = sorted(fused, key=fused.get, reverse=True)[:k]
                        hits += any(contains_answer(texts[p], q.expect) for p in top)
                    print(json.dumps({"window": window, "passages": len(texts), "rrf_k": rrf_k, "lexical_weight": lw, f"recall@{k}": round(hits / len(runs), 4)}))
        for name, ranking in (("dense", 1), ("lexical", 2)):
            hits = sum(any(contains_answer(texts[p], r[0].expect) for p in r[ranking][:5]) for r in runs)
            print(json.dumps({"window": window, "only": name, "recall@5": round(hits / len(runs), 4)}))


if __name__ == "__main__":
    main()
