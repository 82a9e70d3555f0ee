"""Answer quality on the development sets, ours beside LangChain's RAG-tutorial pipeline,
measured in the same run. Writes docs/quality.md.

    .venv/bin/python bench/quality.py

Baseline: RecursiveCharacterTextSplitter(1000, 200), the same embedding model, Chroma top-5.
Its quote is either the whole top chunk, or the top chunk's sentence most similar to the
question. Only the development sets are used (../shared/eval/README.md).
"""

from __future__ import annotations

import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from retrieval.chain import Engine  # noqa: E402
from retrieval.evaluation import MAX_QUOTE_CHARS, contains_answer, evaluate, load_questions  # noqa: E402
from retrieval.ingest import ingest  # noqa: E402
from retrieval.loaders import load_paths  # noqa: E402
from retrieval.settings import Settings  # noqa: E402
from retrieval.splitting import Span, sentences  # noqa: E402

EVAL = ROOT.parent / "shared" / "eval"
SQUAD, SEED = EVAL / "squad-v2.0-dev-first5.json", EVAL / "seed_dev.jsonl"


def baseline(questions, embeddings) -> dict:
    import chromadb
    from langchain_chroma import Chroma
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    from langchain_core.documents import Document

    docs = [Document(page_content=d.text, metadata={"source": d.source}) for d in load_paths([SQUAD])]
    chunks = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200, add_start_index=True).split_documents(docs)
    client = chromadb.EphemeralClient(settings=chromadb.Settings(anonymized_telemetry=False))
    store = Chroma.from_documents(chunks, embeddings, client=client, collection_name="baseline",
                                  collection_metadata={"hnsw:space": "cosine"})
    recall = chunk_quote = sentence_quote = 0
    for q in questions:
        top = store.similarity_search(q.question, k=5)
        recall += any(contains_answer(d.page_content, q.expect) for d in top)
        first = top[0].page_content
        chunk_quote += len(first) <= MAX_QUOTE_CHARS and contains_answer(first, q.expect)
        spans = sentences(first, Span(0, len(first)))
        texts = [first[s.start : s.end] for s in spans]
        scores = embeddings.encode(texts) @ embeddings.query_vector(q.question)
        sentence_quote += contains_answer(texts[int(scores.argmax())], q.expect)
    n = len(questions)
    return {"chunks": len(chunks), "recall@5": recall / n, "chunk_quote": chunk_quote / n, "sentence_quote": sentence_quote / n}


def main() -> None:
    started = time.time()
    settings = Settings(data_dir=Path(tempfile.mkdtemp(prefix="qa-quality-")))
    engine = Engine(settings)
    ingest([str(SQUAD)], "squad", settings, embeddings=engine.embeddings, progress=False)
    ingest([str(ROOT / "corpus")], "seed", settings, embeddings=engine.embeddings, progress=False)
    squad = load_questions(SQUAD)
    answerable = [q for q in squad if q.answerable]
    engine.warm_up("squad")
    ours = evaluate(answerable, lambda q: engine.answer(q, corpus="squad"))
    impossible = evaluate([q for q in squad if not q.answerable], lambda q: engine.answer(q, corpus="squad"))
    seed = evaluate(load_questions(SEED), lambda q: engine.answer(q, corpus="seed"))
    off_topic = [engine.answer(q.question, corpus="squad").abstained for q in load_questions(SEED)]
    off_topic += [engine.answer(q.question, corpus="seed").abstained for q in answerable]
    base = baseline(answerable, engine.embeddings)

    pct = lambda x: f"{100 * x:.1f}%"  # noqa: E731
    lines = [
        "# Answer quality (development sets)",
        "",
        f"Measured by `bench/quality.py` on {time.strftime('%Y-%m-%d')}, {platform.machine()}, "
        f"Python {platform.python_version()}, in {time.time() - started:.0f} s. SQuAD 2.0 dev, first five "
        f"articles: {len(answerable)} answerable questions, {impossible['questions']} unanswerable.",
        "",
        "| | ours (hybrid, sentence quotes) | LangChain RAG tutorial (1000/200 chunks, dense top-5) |",
        "| --- | --- | --- |",
        f"| recall@5 (gold answer in a returned passage) | {pct(ours['recall@5'])} | {pct(base['recall@5'])} |",
        f"| quote accuracy (first quote <= 400 chars holds the answer) | {pct(ours['quote_accuracy'])} | "
        f"{pct(base['chunk_quote'])} pasting the top chunk; {pct(base['sentence_quote'])} with its sentence most similar to the question |",
        f"| false abstention (answerable questions) | {pct(ours['false_abstention'])} | never abstains |",
        f"| abstention on off-topic questions ({len(off_topic)}) | {pct(sum(off_topic) / len(off_topic))} | never abstains |",
        f"| abstention on SQuAD 2.0 unanswerable questions | {pct(impossible['abstention_unanswerable'])} | never abstains |",
        f"| quotes verbatim (checked against the source file) | {ours['verbatim']} | - |",
        f"| warm answer latency p50 / p95 | {ours['latency_ms_p50']} / {ours['latency_ms_p95']} ms | - |",
        "",
        f"Seed questions (`seed_dev.jsonl`): quote accuracy {pct(seed['quote_accuracy'])}, abstention on "
        f"unanswerable {pct(seed['abstention_unanswerable'])}, false abstention {pct(seed['false_abstention'])}.",
        "",
        "Off-topic questions: the seed questions asked of the SQuAD corpus, and the answerable SQuAD",
        "questions asked of the seed corpus. SQuAD 2.0's unanswerable questions are written to look",
        "answerable from the very paragraph they came from; an extractive answerer without a reader",
        "model abstains on few of them (the LLM answerer is the way to do better there).",
        "",
    ]
    out = ROOT / "docs" / "quality.md"
    out.parent.mkdir(exist_ok=True)
    out.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
