"""Where `qa ingest` spends its time: a new process run under cProfile on the first SQuAD 1.1
articles, its time put in buckets (bench/run.py writes them into docs/benchmarks.md).

    .venv/bin/python bench/profile_ingest.py --articles 10
"""

from __future__ import annotations

import argparse
import json
import os
import pstats
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SQUAD11 = ROOT.parent / "shared" / "eval" / "squad-v1.1-dev.json"

# (bucket, [(file suffix, function)]): their cumulative time. The entry points do not nest
# in one another (embedding: the larger of the two, as encode_documents may call encode),
# so the buckets add up; the rest is "other".
BUCKETS = [
    ("load (read, parse)", [("retrieval/ingest/pipeline.py", "_load")]),
    ("split (sentences, windows, dedup within the document)", [("retrieval/ingest/splitting.py", "split")]),
    ("embed sentences", [("retrieval/search/embeddings.py", "encode_documents"), ("retrieval/search/embeddings.py", "encode")]),
    ("Chroma writes (passages, sentence vectors, deletes, revision)",
     [("retrieval/store/corpus.py", f) for f in ("replace_document", "delete_document", "bump_revision", "sweep_orphans")]),
    ("Chroma reads (duplicates elsewhere, stored vectors, documents)",
     [("retrieval/store/corpus.py", f) for f in ("duplicates_elsewhere", "sentence_vectors_by_text", "documents", "unfinished_write")]),
    ("lexical index (BM25)", [("retrieval/search/lexical.py", f) for f in ("update_lexical_index", "lexical_index")]),
]


def first_articles(count: int, folder: Path) -> Path:
    """The first `count` articles of SQuAD 1.1 as a data-set file of their own."""
    data = json.loads(SQUAD11.read_text())
    path = folder / f"squad11-first{count}.json"
    path.write_text(json.dumps({"version": data.get("version", "1.1"), "data": data["data"][:count]}))
    return path


def profile(dataset: Path, env: dict, folder: Path, root: Path = ROOT) -> dict:
    """Run `qa ingest dataset` under cProfile in a new process (the code in `root`); seconds
    per bucket."""
    out = folder / "ingest.prof"
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "cProfile", "-o", str(out), "-m", "bot.cli", "ingest", str(dataset),
                    "--corpus", "profiled"], env={**env, "PYTHONPATH": str(root)}, check=True, capture_output=True, cwd=root)
    wall = time.perf_counter() - started
    stats = pstats.Stats(str(out)).stats  # (file, line, function) -> (cc, nc, tt, ct, callers)
    buckets = {}
    for name, entries in BUCKETS:
        times = [ct for (file, _, function), (_, _, _, ct, _) in stats.items()
                 if any(file.endswith(suffix) and function == fn for suffix, fn in entries)]
        buckets[name] = (max(times, default=0.0) if name.startswith("embed") else sum(times))
    buckets["other (start-up: imports, model and store opening)"] = max(0.0, wall - sum(buckets.values()))
    return {"wall_s": wall, "buckets": buckets}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=10)
    parser.add_argument("--model-cache", type=Path, default=ROOT / "bench" / ".cache" / "models")
    parser.add_argument("--root", type=Path, default=ROOT, help="the checkout whose code is profiled")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="qa-profile-") as tmp:
        folder = Path(tmp)
        env = {**os.environ, "QA_DATA_DIR": str(folder / "data"), "QA_MODEL_CACHE": str(args.model_cache),
               "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
        result = profile(first_articles(args.articles, folder), env, folder, args.root)
    for name, seconds in result["buckets"].items():
        print(f"{seconds:7.2f} s  {100 * seconds / result['wall_s']:5.1f}%  {name}")
    print(f"{result['wall_s']:7.2f} s  total (under cProfile)")


if __name__ == "__main__":
    main()
