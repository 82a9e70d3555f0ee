"""A large synthetic corpus that is realistic for both sides of the hybrid search, built once
and cached: passages recombined from real SQuAD sentences (real words for BM25) whose
sentence vectors are the real embeddings of those sentences (nothing is embedded twice).

    from bench.synthetic import build
    settings = build(Path("bench/.cache/synth-100000"), passages=100_000)

or from a shell: .venv/bin/python bench/synthetic.py DATA_DIR --passages 100000 [--source F] [--model-cache D]
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from retrieval import (  # noqa: E402
    CorpusNotFound,
    CorpusStore,
    Document,
    Passage,
    SentenceEmbeddings,
    Settings,
    Span,
    close_client,
    content_hash,
    document_hash,
    indexable_sentences,
    load_paths,
    open_client,
    passage_sentence_text,
    remove_corpus,
    sentence_ids,
)

CORPUS = "synthetic"
PASSAGES_PER_DOCUMENT = 50
MARKER = "synthetic.json"


def sentence_pool(source: Path, embeddings: SentenceEmbeddings, cache: Path) -> tuple[list[list[str]], dict[str, np.ndarray]]:
    """The sentences of each article of a SQuAD file, and their vectors (cached)."""
    articles = []
    for document in load_paths([source]):
        articles.append([document.text[s.start : s.end] for run in indexable_sentences(document) for s in run])
    cache_file = cache / "sentence-vectors.npz"
    texts = sorted({t for article in articles for t in article})
    if cache_file.is_file():
        stored = np.load(cache_file, allow_pickle=False)
        if list(stored["texts"]) == texts:
            return articles, dict(zip(texts, stored["vectors"]))
    vectors = embeddings.encode(texts)
    cache.mkdir(parents=True, exist_ok=True)
    np.savez(cache_file, texts=np.array(texts), vectors=vectors)
    return articles, dict(zip(texts, vectors))


def synthetic_documents(articles: list[list[str]], passages: int, seed: int = 13):
    """Documents of PASSAGES_PER_DOCUMENT passages, each 3-5 sentences of one article."""
    rng = random.Random(seed)
    articles = [a for a in articles if len(a) >= 5]
    made = 0
    while made < passages:
        count = min(PASSAGES_PER_DOCUMENT, passages - made)
        groups = []
        for _ in range(count):
            article = rng.choice(articles)
            groups.append(rng.sample(article, rng.randint(3, 5)))
        number = made // PASSAGES_PER_DOCUMENT
        yield number, groups
        made += count


def to_document(number: int, groups: list[list[str]]) -> tuple[Document, list[Passage]]:
    text, spans = "", []
    for group in groups:
        sentence_spans = []
        for sentence in group:
            start = len(text)
            text += sentence + " "
            sentence_spans.append(Span(start, start + len(sentence)))
        text = text[:-1] + "\n\n"
        spans.append(sentence_spans)
    document = Document(source=f"synthetic/doc-{number:05d}.txt", text=text, title=f"Synthetic document {number}")
    doc_hash = document_hash(document, 0)
    passages = [
        Passage(
            id=f"syn-{number:05d}-{i:02d}", source=document.source, title=document.title, date=None,
            start=s[0].start, end=s[-1].end, text=text[s[0].start : s[-1].end], sentences=tuple(s),
            doc_hash=doc_hash, position=i,
        )
        for i, s in enumerate(spans)
    ]
    return document, passages


def build(data_dir: Path, passages: int, source: Path | None = None, model_cache: Path | None = None,
          progress: bool = True) -> Settings:
    """The corpus in `data_dir` (built on the first call, reused after)."""
    source = source or ROOT.parent / "shared" / "eval" / "squad-v1.1-dev.json"
    settings = Settings(data_dir=data_dir, model_cache=model_cache)
    marker = data_dir / MARKER
    wanted = {"passages": passages, "source": str(source), "version": 2}  # 2: sentence vectors in metadata
    if marker.is_file() and json.loads(marker.read_text()) == wanted:
        return settings
    embeddings = SentenceEmbeddings.from_settings(settings)
    articles, vectors = sentence_pool(source, embeddings, data_dir.parent / "sentence-pool")
    client = open_client(settings)
    try:
        try:
            remove_corpus(client, settings, CORPUS)  # a half-built one from an interrupted run
        except CorpusNotFound:
            pass
        store = CorpusStore(client, settings, CORPUS, embeddings.name, create=True)
        store.begin_write("bench/synthetic.py")  # as every writer does: readers then trust no cached index
        from tqdm import tqdm

        with tqdm(total=passages, unit="passage", desc="synthetic corpus", disable=not progress) as bar:
            for number, groups in synthetic_documents(articles, passages):
                document, doc_passages = to_document(number, groups)
                sentence_vecs = {
                    sid: vectors[passage_sentence_text(p, span)]
                    for p in doc_passages for sid, span in zip(sentence_ids(p), p.sentences)
                }
                store.replace_document(document.source, doc_passages, [content_hash(p.text) for p in doc_passages],
                                       sentence_vecs)
                bar.update(len(doc_passages))
        store.end_write(finished=True)
    finally:
        close_client(client)  # the embedded index allows one process at a time: let qa commands in
    marker.write_text(json.dumps(wanted))
    return settings


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("--passages", type=int, default=100_000)
    parser.add_argument("--source", type=Path, default=None, help="a SQuAD-format file (default: SQuAD 1.1 dev)")
    parser.add_argument("--model-cache", type=Path, default=None)
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args()
    build(args.data_dir, args.passages, args.source, args.model_cache, progress=not args.quiet)


if __name__ == "__main__":
    main()
