"""Answer quality on every evaluation set (bench/eval_sets.py), development and held-out parts
reported apart, each asked alone and mixed into ~200 unrelated documents, beside the BM25
and dense-only sides of our retriever and LangChain's RAG-tutorial pipeline, all in one run.
Writes docs/quality.md (and per-question results to bench/.cache/quality/results.jsonl).

    .venv/bin/python bench/quality.py                  # the sets
    .venv/bin/python bench/quality.py --heldout-squad  # also the 43 untouched SQuAD 1.1 articles

Tutorial baseline: RecursiveCharacterTextSplitter(1000, 200), the same embedding model,
Chroma top-5; its quote is the top chunk's sentence most similar to the question.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.eval_sets import EvalSet, eval_sets, heldout_squad11, mixed_documents, off_topic  # noqa: E402
from retrieval import (  # noqa: E402
    MAX_QUOTE_CHARS,
    Engine,
    Question,
    SentenceEmbeddings,
    Settings,
    Span,
    contains_answer,
    evaluate,
    ingest,
    load_paths,
    load_questions,
    model_cache,
    sentences,
)

MODEL = SentenceEmbeddings(Settings().embed_model).name  # QA_EMBED_MODEL
# One cache and report per embedding model (a corpus is asked with the model it was embedded
# with); the bundled model's are bench/.cache/quality and docs/quality.md.
_SUFFIX = "" if MODEL == SentenceEmbeddings("").name else "-" + MODEL.rsplit("/", 1)[-1]
CACHE = ROOT / "bench" / ".cache" / f"quality{_SUFFIX}"
REPORT = ROOT / "docs" / f"quality{_SUFFIX}.md"


class MemoEmbeddings(SentenceEmbeddings):
    """The same model, with every text encoded once per run: the sets are ingested into
    several corpora."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._memo: dict[str, object] = {}
        self._documents_memo: dict[str, object] = {}  # ingest's encoder (int8): other vectors

    def encode(self, texts):
        return self._memoised(texts, self._memo, super().encode)

    def encode_documents(self, texts):
        return self._memoised(texts, self._documents_memo, super().encode_documents)

    @staticmethod
    def _memoised(texts, memo, encode):
        missing = list(dict.fromkeys(t for t in texts if t not in memo))
        if missing:
            memo.update(zip(missing, encode(missing)))
        import numpy as np

        return np.stack([memo[t] for t in texts]) if texts else encode(texts)


def sides_recall(engine: Engine, corpus: str, questions: list[Question], k: int = 5) -> dict:
    """recall@k of BM25 alone and of the dense side alone, over the same passages."""
    retriever, _ = engine.corpus(corpus)
    out = {}
    for side, update in (("bm25", {"dense_weight": 0.0}), ("dense", {"lexical_weight": 0.0})):
        alone = retriever.model_copy(update=update)
        answerable = [q for q in questions if q.answerable]
        hits = sum(any(contains_answer(d.page_content, q.expect) for d in alone.invoke(q.question)[:k]) for q in answerable)
        out[side] = hits / len(answerable) if answerable else None
    return out


def tutorial(documents: list[Path], questions: list[Question], embeddings) -> dict:
    import chromadb
    from langchain_chroma import Chroma
    from langchain_core.documents import Document
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    docs = [Document(page_content=d.text, metadata={"source": d.source}) for d in load_paths(documents)
            if hasattr(d, "text")]
    chunks = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200).split_documents(docs)
    client = chromadb.EphemeralClient(settings=chromadb.Settings(anonymized_telemetry=False))
    name = f"tutorial-{time.monotonic_ns()}"
    store = Chroma.from_documents(chunks, embeddings, client=client, collection_name=name,
                                  collection_metadata={"hnsw:space": "cosine"})
    answerable = [q for q in questions if q.answerable]
    recall = quote = 0
    for q in answerable:
        top = store.similarity_search(q.question, k=5)
        recall += any(contains_answer(d.page_content, q.expect) for d in top)
        first = top[0].page_content
        texts = [first[s.start : s.end] for s in sentences(first, Span(0, len(first)))]
        best = texts[int((embeddings.encode(texts) @ embeddings.query_vector(q.question)).argmax())]
        quote += len(best) <= MAX_QUOTE_CHARS and contains_answer(best, q.expect)
    client.delete_collection(name)
    n = len(answerable) or 1
    return {"recall@5": recall / n, "quote_accuracy": quote / n}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--heldout-squad", action="store_true", help="Also the 43 untouched SQuAD 1.1 articles.")
    parser.add_argument("--sets", default="", help="Comma-separated set names (default: all).")
    parser.add_argument("--no-mixed", action="store_true", help="Only the corpora of each set alone.")
    parser.add_argument("--fresh", action="store_true", help="Re-ingest everything.")
    parser.add_argument("--no-tutorial", action="store_true",
                        help="Without the LangChain tutorial anchor (it embeds every document again, in chunks).")
    args = parser.parse_args()
    started = time.time()
    if args.fresh:
        shutil.rmtree(CACHE / "data", ignore_errors=True)
    settings = Settings(data_dir=CACHE / "data")
    engine = Engine(settings)
    engine.embeddings = MemoEmbeddings(settings.embed_model, cache_dir=model_cache(settings))
    sets = eval_sets()
    if args.sets:
        sets = [s for s in sets if s.name in args.sets.split(",")]
    if args.heldout_squad:
        squad = heldout_squad11(CACHE / "squad11-heldout43.json")
        sets.append(EvalSet("squad11-heldout43", (squad,), squad))
    rows, offtopic_rows = [], []
    CACHE.mkdir(parents=True, exist_ok=True)
    results = open(CACHE / f"results{'-' + args.sets if args.sets else ''}.jsonl", "w")
    for s in sets:
        parts = [("dev", load_questions(s.dev))] + ([("heldout", load_questions(s.heldout))] if s.heldout else [])
        if s.name == "squad11-heldout43":
            parts = [("heldout", parts[0][1])]
        layouts = [("alone", list(s.documents))]
        if not args.no_mixed and s.name != "squad11-heldout43":
            layouts.append(("mixed", mixed_documents(s, eval_sets(), CACHE)))
        for layout, documents in layouts:
            corpus = f"{s.name}-{layout}"
            ingest([str(p) for p in documents], corpus, settings, embeddings=engine.embeddings, progress=False)
            engine.warm_up(corpus)
            for part, questions in parts:

                def record(q, a, part=part, corpus=corpus):
                    first = a.citations[0].quote if a.citations else ""
                    results.write(json.dumps({
                        "set": s.name, "layout": layout, "part": part, "id": q.id, "question": q.question,
                        "answerable": q.answerable, "expect": q.expect, "abstained": a.abstained, "quote": first,
                        "hit": bool(first) and len(first) <= MAX_QUOTE_CHARS and contains_answer(first, q.expect),
                        "recall": any(contains_answer(p.text, q.expect) for p in a.passages[:5]),
                    }) + "\n")

                ours = evaluate(questions, lambda text, corpus=corpus: engine.answer(text, corpus=corpus), on_result=record)
                row = {"set": s.name, "part": part, "layout": layout, **ours, **sides_recall(engine, corpus, questions)}
                if layout == "alone" and not args.no_tutorial:
                    row["tutorial"] = tutorial(documents, questions, engine.embeddings)
                rows.append(row)
                print(json.dumps(row), flush=True)
            asked = {part: off_topic(part) for part in ("dev", "heldout")}
            if layout == "alone":  # in the mixed corpus the other sets' questions are on topic
                asked["other sets"] = [q.question for o in sets if o.documents != s.documents and o.name != "squad11-heldout43"
                                       for q in load_questions(o.dev)[:40] if q.answerable]
            for kind, questions in asked.items():
                refused = sum(engine.answer(q, corpus=corpus).abstained for q in questions)
                offtopic_rows.append((s.name, layout, kind, refused, len(questions)))
    results.close()
    # Rows of earlier runs (other --sets) are kept, so the report can be built in parts.
    saved = CACHE / "rows.json"
    previous = json.loads(saved.read_text()) if saved.is_file() and not args.fresh else {"rows": [], "offtopic": []}
    done = {(r["set"], r["part"], r["layout"]) for r in rows}
    rows = [r for r in previous["rows"] if (r["set"], r["part"], r["layout"]) not in done] + rows
    offtopic_rows = [o for o in previous["offtopic"] if len(o) == 5 and o[0] not in {o[0] for o in offtopic_rows}] + offtopic_rows
    order = [s.name for s in eval_sets()] + ["squad11-heldout43"]
    rows.sort(key=lambda r: (order.index(r["set"]) if r["set"] in order else 99, r["layout"], r["part"]))
    saved.write_text(json.dumps({"rows": rows, "offtopic": offtopic_rows}))
    write_report(rows, offtopic_rows, time.time() - started)


def pct(x) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def write_report(rows: list[dict], offtopic_rows: list, seconds: float) -> None:
    lines = [
        "# Answer quality",
        "",
        f"Measured by `bench/quality.py` on {time.strftime('%Y-%m-%d')}, {platform.machine()}, Python "
        f"{platform.python_version()}, in {seconds:.0f} s, extractive mode, embedding model {MODEL}. Sets: bench/sets/ (their READMEs) and "
        "SQuAD 2.0's first five development articles. *dev* was tuned on; *heldout* never was. *alone*: the set's "
        "documents only; *mixed*: the same among ~200 unrelated documents (the other sets, and the SQuAD paragraphs "
        "as separate documents).",
        "",
        "Quote accuracy: the first quote (at most 400 characters) holds the expected answer. Recall@5: a returned "
        "passage holds it. BM25 and dense: each side of our retriever alone, over the same passages. Tutorial: "
        "LangChain's RAG tutorial (1000/200 chunks, dense top 5, its top chunk's most similar sentence as the quote).",
        "",
        "| set | part | corpus | questions | quote accuracy | recall@5 | BM25 recall@5 | dense recall@5 | false abstention "
        "| abstention on unanswerable | tutorial recall@5 / quote | p50 ms |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        tut = r.get("tutorial")
        lines.append(
            f"| {r['set']} | {r['part']} | {r['layout']} | {r['answerable']} + {r['unanswerable']} | "
            f"{pct(r['quote_accuracy'])} | {pct(r['recall@5'])} | {pct(r['bm25'])} | {pct(r['dense'])} | "
            f"{pct(r['false_abstention'])} | {pct(r['abstention_unanswerable'])} | "
            f"{pct(tut['recall@5']) + ' / ' + pct(tut['quote_accuracy']) if tut else '-'} | {r['latency_ms_p50']} |"
        )
    lines += ["", "Off-topic questions refused: general questions no corpus answers (bench/sets/offtopic/: *dev* tuned on, "
              "*heldout* never), asked of each set's corpus alone and mixed; and, alone, the other sets' questions.", "",
              "| set | corpus | off-topic dev | off-topic heldout | other sets' questions |", "| --- | --- | --- | --- | --- |"]
    cells: dict[tuple[str, str], dict[str, str]] = {}
    for name, layout, kind, refused, total in offtopic_rows:
        cells.setdefault((name, layout), {})[kind] = f"{refused} of {total}"
    for (name, layout), found in cells.items():
        lines.append(f"| {name} | {layout} | {found.get('dev', '-')} | {found.get('heldout', '-')} | {found.get('other sets', '-')} |")
    lines.append("")
    REPORT.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
