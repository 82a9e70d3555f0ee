"""What the stronger embedding model costs: the bundled all-MiniLM-L6-v2 against
all-mpnet-base-v2 (QA_EMBED_MODEL=all-mpnet-base-v2, the `mpnet` extra), in one run, in
alternating rounds so both see the same machine load. Quality is bench/quality.py's, run once
per model (docs/quality.md, docs/quality-all-mpnet-base-v2.md).

    .venv/bin/pip install -q -e '.[mpnet]' && .venv/bin/python bench/embedding_models.py

Per model: `qa ingest` of the first 10 SQuAD 1.1 articles (a new process and data directory
each round), cold `qa ask` against the shipped article, warm answer latency over 200 questions
on those 10 articles, and the peak RSS of `qa ask`.
"""

from __future__ import annotations

import json
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.profile_ingest import first_articles  # noqa: E402
from bench.run import CACHE, PY, latency, measured  # noqa: E402
from retrieval import Engine, Settings, load_questions  # noqa: E402
from tests.support.index_checks import qa_env  # noqa: E402

MODELS = {"all-MiniLM-L6-v2": "", "all-mpnet-base-v2": "all-mpnet-base-v2"}


def main(rounds: int = 3) -> None:
    work = Path(tempfile.mkdtemp(prefix="qa-models-"))
    dataset = first_articles(10, work)
    questions = [q.question for q in load_questions(dataset) if q.answerable][:200]
    models = CACHE / "models"
    found: dict[str, dict] = {name: {"ingest_s": [], "cold_ask_s": [], "ask_rss_mb": []} for name in MODELS}
    for name, model in MODELS.items():  # joined, exported and quantised once, before any timing
        warm = Engine(Settings(data_dir=work / "warm", model_cache=models, embed_model=model))
        warm.embeddings.model  # noqa: B018
        warm.embeddings.encode_documents(["warm-up"])
    for round_ in range(rounds):
        for name, model in MODELS.items():
            settings = Settings(data_dir=work / f"{name}-{round_}", model_cache=models, embed_model=model)
            env = {**qa_env(settings), "QA_EMBED_MODEL": model}
            found[name]["ingest_s"].append(measured([PY, "-m", "bot.cli", "ingest", str(dataset), "--corpus", "squad10"], env)[0])
            measured([PY, "-m", "bot.cli", "ingest", str(ROOT / "corpus")], env)
            wall, rss, _ = measured([PY, "-m", "bot.cli", "ask", "What did Shoigu ask Wallace?"], env)
            found[name]["cold_ask_s"].append(wall)
            found[name]["ask_rss_mb"].append(rss)
            if round_ == 0:
                found[name]["warm_ms"] = latency(settings, "squad10", questions)
    shutil.rmtree(work, ignore_errors=True)
    summary = {name: {"ingest_s_median": round(statistics.median(r["ingest_s"]), 2),
                      "cold_ask_s_median": round(statistics.median(r["cold_ask_s"]), 2),
                      "ask_rss_mb_max": max(r["ask_rss_mb"]), "warm_ms": r["warm_ms"]} for name, r in found.items()}
    base, strong = summary["all-MiniLM-L6-v2"], summary["all-mpnet-base-v2"]
    summary["ratios"] = {"ingest": round(strong["ingest_s_median"] / base["ingest_s_median"], 2),
                         "cold_ask": round(strong["cold_ask_s_median"] / base["cold_ask_s_median"], 2),
                         "warm_p50": round(strong["warm_ms"]["p50"] / base["warm_ms"]["p50"], 2)}
    print(json.dumps({"rounds": found, "summary": summary}, indent=1))


if __name__ == "__main__":
    main()
