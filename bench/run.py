"""Every benchmark in one command; each compared with its baseline in the same run.
Writes docs/benchmarks.md and docs/latency.png.

    ./setup.sh && .venv/bin/pip install -q -e '.[bench]' && .venv/bin/python bench/run.py

1. Ingest throughput (corpus characters/s) of `qa ingest` on the first 10 SQuAD 1.1 articles
   (three runs of each, alternating) and on all 48, against the LangChain RAG-tutorial
   pipeline (1000/200 chunks into Chroma, the same model) on the same documents and the raw
   sentence-transformers encode of our passages; and where `qa ingest`'s time goes on the
   10 articles (cProfile, bench/profile_ingest.py).
2. Warm answer latency at three corpus sizes (seed, SQuAD 1.1, 100k synthetic passages), timed
   after a pass over other questions that reads what the page cache lacks of the store,
   beside the tutorial pipeline's similarity search alone.
3. Cold start: `qa ask` in a new process against `python -c "import sentence_transformers"`.
4. Peak memory (RSS) of `qa ask`, `qa ingest` and `qa serve` at each corpus size.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.profile_ingest import first_articles  # noqa: E402
from bench.profile_ingest import profile as profile_ingest  # noqa: E402
from bench.synthetic import build as build_synthetic  # noqa: E402
from retrieval import Engine, Settings, load_paths, load_questions, split  # noqa: E402
from tests.support.index_checks import qa_env  # noqa: E402
from tests.support.serving import start_serve  # noqa: E402

SQUAD11 = ROOT.parent / "shared" / "eval" / "squad-v1.1-dev.json"
SEED_QUESTIONS = ROOT.parent / "shared" / "eval" / "seed_dev.jsonl"
CACHE = ROOT / "bench" / ".cache"
PY = sys.executable


def stats(ms: list[float]) -> dict:
    ordered = sorted(ms)
    return {"p50": round(statistics.median(ordered), 1), "p95": round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))], 1),
            "min": round(ordered[0], 1), "max": round(ordered[-1], 1), "n": len(ordered)}


def measured(cmd: list[str], env: dict, cwd: Path | None = None) -> tuple[float, int, str]:
    """Wall seconds, peak RSS (MB) and stdout of a command, run in a fresh process."""
    wrapper = ("import resource, subprocess, sys, time; t = time.perf_counter(); "
               "p = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
               "print(json.dumps([time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, p.returncode, p.stdout[-2000:], p.stderr[-2000:]]))")
    out = subprocess.run([PY, "-c", "import json; " + wrapper, *cmd], capture_output=True, text=True, env=env, cwd=cwd, check=True)
    wall, rss_kb, code, stdout, stderr = json.loads(out.stdout)
    if code != 0:
        raise RuntimeError(f"{cmd} failed: {stderr}")
    return wall, rss_kb // 1024, stdout


def machine() -> dict:
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), platform.processor())
    mem = next((int(line.split()[1]) // 1024 // 1024 for line in open("/proc/meminfo") if line.startswith("MemTotal")), 0)
    import onnxruntime
    import torch
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gb": mem, "python": platform.python_version(),
            "torch": torch.__version__, "onnxruntime": onnxruntime.__version__}


def ingest_benchmark(models: Path, work: Path) -> dict:
    from sentence_transformers import SentenceTransformer

    from retrieval import bundled_model_path

    documents = list(load_paths([SQUAD11]))
    chars = sum(len(d.text) for d in documents)
    passages = [p.text for d in documents for p in split(d, Settings().window_chars)]
    model = SentenceTransformer(str(bundled_model_path()), device="cpu")
    model.encode(passages[:64], batch_size=64)  # warm
    started = time.perf_counter()
    model.encode(passages, batch_size=64, show_progress_bar=False)
    raw = time.perf_counter() - started

    ours_settings = Settings(data_dir=work / "squad11", model_cache=models)
    wall, rss, _ = measured([PY, "-m", "bot.cli", "ingest", str(SQUAD11), "--corpus", "squad11"], qa_env(ours_settings))

    tutorial = tutorial_pipeline(documents, work / "tutorial")
    return {"documents": len(documents), "characters": chars, "passages": len(passages),
            "raw_encode_s": raw, "ours_s": wall, "ours_rss_mb": rss, "tutorial_s": tutorial["seconds"],
            "tutorial_chunks": tutorial["chunks"], "tutorial_store": tutorial["store"]}


def ingest_small(models: Path, work: Path, articles: int = 10, runs: int = 3) -> dict:
    """`qa ingest` (a new process each time, into a new data directory) and the tutorial on
    the first `articles` SQuAD 1.1 articles, alternating, so both see the same machine load."""
    dataset = first_articles(articles, work)
    documents = list(load_paths([dataset]))
    ours, tutorial = [], []
    for run in range(runs):
        settings = Settings(data_dir=work / f"small-{run}", model_cache=models)
        ours.append(measured([PY, "-m", "bot.cli", "ingest", str(dataset), "--corpus", "small"], qa_env(settings))[0])
        tutorial.append(tutorial_pipeline(documents, work / f"small-tutorial-{run}")["seconds"])
    env = qa_env(Settings(data_dir=work / "profiled", model_cache=models))
    return {"articles": articles, "characters": sum(len(d.text) for d in documents), "ours_s": ours,
            "tutorial_s": tutorial, "profile": profile_ingest(dataset, env, work)}


def tutorial_pipeline(documents, folder: Path) -> dict:
    """LangChain's RAG tutorial: 1000/200 character chunks, the same model, Chroma."""
    import chromadb
    from langchain_chroma import Chroma
    from langchain_core.documents import Document
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    from retrieval import SentenceEmbeddings

    started = time.perf_counter()
    docs = [Document(page_content=d.text, metadata={"source": d.source}) for d in documents]
    chunks = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200, add_start_index=True).split_documents(docs)
    client = chromadb.PersistentClient(path=str(folder), settings=chromadb.Settings(anonymized_telemetry=False))
    store = Chroma.from_documents(chunks, SentenceEmbeddings(), client=client, collection_name="tutorial",
                                  collection_metadata={"hnsw:space": "cosine"})
    return {"seconds": time.perf_counter() - started, "chunks": len(chunks), "store": store}


def latency(settings: Settings, corpus: str, questions: list[str], warm: list[str]) -> dict:
    """The questions timed after a pass over `warm`, other questions about the same documents:
    that pass reads whatever part of the store the page cache lacks (the 100,000-passage corpus
    is 3.6 GB, and the ingests before this step push it out), without answering the measured
    questions first (the answerer remembers recent sentences' token vectors). Both passes are
    reported, each with the bytes this process read from disk meanwhile."""
    engine = Engine(settings)
    try:
        engine.warm_up(corpus)
        passes = []
        for asked in (warm, questions):
            times, read = [], disk_read_bytes()
            for q in asked:
                started = time.perf_counter()
                engine.answer(q, corpus=corpus)
                times.append(1000 * (time.perf_counter() - started))
            passes.append({**stats(times), "disk_mb": round((disk_read_bytes() - read) / 1e6, 1)})
    finally:
        # An embedded index allows one process at a time: the `qa ask` / `qa serve` processes
        # started later on this data directory would wait for us, then refuse.
        engine.close()
    return {**passes[1], "warm_pass": passes[0]}


def disk_read_bytes() -> int:
    """Bytes this process has read from storage (Linux); 0 where that is not known."""
    try:
        fields = dict(line.split(": ") for line in Path("/proc/self/io").read_text().splitlines())
    except OSError:
        return 0
    return int(fields["read_bytes"])


def serve_rss(settings: Settings, questions: list[str]) -> int:
    """Peak RSS (MB) of `qa serve` after answering a few mentions."""
    import httpx

    from tests.support.ports import free_port
    from tests.support.slack_fake import FakeSlack, app_mention, event_callback, sign

    fake, port, secret = FakeSlack(), free_port(), "bench-secret"
    env = {**qa_env(settings), "SLACK_API_URL": fake.api_url, "SLACK_BOT_TOKEN": "xoxb-bench", "SLACK_SIGNING_SECRET": secret,
           "QA_CORPUS": settings.corpus}
    process = start_serve(env, port)
    try:
        for i, q in enumerate(questions[:20]):
            body = json.dumps(event_callback(app_mention(q, f"CBENCH{i}")))
            httpx.post(f"http://127.0.0.1:{port}/slack/events", content=body, timeout=10,
                       headers={"Content-Type": "application/json", **sign(secret, body)})
        fake.wait_for(lambda: len(fake.posts()) >= min(20, len(questions)), timeout=120)
        status = Path(f"/proc/{process.pid}/status").read_text()
        return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM"))) // 1024
    finally:
        process.terminate()
        process.wait(timeout=30)
        fake.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--passages", type=int, default=100_000, help="size of the synthetic corpus")
    parser.add_argument("--questions", type=int, default=200)
    args = parser.parse_args()
    began = time.time()
    models = CACHE / "models"
    work = Path(tempfile.mkdtemp(prefix="qa-bench-"))
    results: dict = {"machine": machine()}

    # The ONNX export of the model, made once, shared by every run below.
    # And its int8 copy, which ingest embeds with: made once per model, like the export.
    warm = Engine(Settings(data_dir=work / "warm", model_cache=models))
    warm.embeddings.model  # noqa: B018
    warm.embeddings.encode_documents(["warm-up"])

    print("1/4 ingest throughput", flush=True)
    results["ingest_small"] = ingest_small(models, work)
    results["ingest"] = ing = ingest_benchmark(models, work)
    tutorial_store = ing.pop("tutorial_store")

    seed = Settings(data_dir=work / "seed", model_cache=models)
    seed_wall, seed_ingest_rss, _ = measured([PY, "-m", "bot.cli", "ingest", str(ROOT / "corpus")], qa_env(seed))
    squad = Settings(data_dir=work / "squad11", model_cache=models, corpus="squad11")
    print("   synthetic corpus (cached after its first build)", flush=True)
    synth_started = time.perf_counter()
    synth = build_synthetic(CACHE / f"synth-{args.passages}", args.passages, model_cache=models)
    synth_build_s = time.perf_counter() - synth_started
    synth = synth.model_copy(update={"corpus": "synthetic"})

    answerable = [q.question for q in load_questions(SQUAD11) if q.answerable]
    step = max(1, 10570 // args.questions)
    squad_questions = answerable[::step][: args.questions]
    squad_warm = answerable[step // 2 :: step][: args.questions]  # others about the same articles
    seed_questions = [q.question for q in load_questions(SEED_QUESTIONS)] * 25

    print("2/4 warm answer latency", flush=True)
    sizes = {}
    for name, settings in (("seed", seed), ("squad11", squad), ("synthetic", synth)):
        from retrieval import CorpusStore, close_client, open_client

        client = open_client(settings)
        try:
            count = CorpusStore(client, settings, settings.corpus, None).count()
        finally:
            close_client(client)  # let the subprocesses below in (one process at a time)
        questions, warm = (seed_questions, seed_questions) if name == "seed" else (squad_questions, squad_warm)
        sizes[name] = {"passages": count, "latency": latency(settings, settings.corpus, questions, warm)}
    baseline = []
    for q in squad_questions:
        started = time.perf_counter()
        tutorial_store.similarity_search(q, k=5)
        baseline.append(1000 * (time.perf_counter() - started))
    results["latency"] = sizes
    results["tutorial_search_latency"] = stats(baseline)

    print("3/4 cold start", flush=True)
    cold = [measured([PY, "-m", "bot.cli", "ask", "What did Shoigu ask Wallace?"], qa_env(seed))[0] for _ in range(5)]
    imports = [measured([PY, "-c", "import sentence_transformers"], qa_env(seed))[0] for _ in range(3)]
    results["cold_start"] = {"qa_ask_s": [round(x, 2) for x in cold], "import_sentence_transformers_s": [round(x, 2) for x in imports]}

    print("4/4 peak memory", flush=True)
    rss = {}
    for name, settings in (("seed", seed), ("squad11", squad), ("synthetic", synth)):
        env = {**qa_env(settings), "QA_CORPUS": settings.corpus}
        ask_rss = measured([PY, "-m", "bot.cli", "ask", squad_questions[0]], env)[1]
        rss[name] = {"qa_ask": ask_rss, "qa_serve": serve_rss(settings, seed_questions if name == "seed" else squad_questions)}
    rss["seed"]["qa_ingest"] = seed_ingest_rss
    rss["squad11"]["qa_ingest"] = ing["ours_rss_mb"]
    results["rss_mb"] = rss
    results["synthetic_build_s"] = round(synth_build_s, 1)
    results["seconds"] = round(time.time() - began)
    shutil.rmtree(work, ignore_errors=True)
    (CACHE / "latest.json").write_text(json.dumps(results, indent=2))
    write_report(results)
    print(json.dumps(results, indent=2))


def write_report(r: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ing, cold, lat = r["ingest"], r["cold_start"], r["latency"]
    small, prof = r["ingest_small"], r["ingest_small"]["profile"]
    small_ours, small_tutorial = statistics.median(small["ours_s"]), statistics.median(small["tutorial_s"])
    tput = lambda s: ing["characters"] / s  # noqa: E731
    cold_ask, cold_import = statistics.median(cold["qa_ask_s"]), statistics.median(cold["import_sentence_transformers_s"])
    m = r["machine"]
    lines = [
        "# Benchmarks",
        "",
        f"Written by `bench/run.py` on {time.strftime('%Y-%m-%d')} in {r['seconds']} s. Machine: {m['cpu']}, {m['cores']} cores, "
        f"{m['memory_gb']} GB, Python {m['python']}, torch {m['torch']}, onnxruntime {m['onnxruntime']}.",
        "",
        f"## Ingest throughput: the first {small['articles']} SQuAD 1.1 articles, {small['characters']:,} characters",
        "",
        "Three runs of each, alternating (the machine is shared: the ratio of medians is the figure).",
        "",
        "| pipeline | median wall time | runs | characters/s | vs tutorial |",
        "| --- | --- | --- | --- | --- |",
        f"| `qa ingest` (new process: start-up, load, split, embed sentences, store, BM25 index) | {small_ours:.1f} s | {', '.join(f'{x:.1f}' for x in small['ours_s'])} | {small['characters'] / small_ours:,.0f} | **{small_tutorial / small_ours:.2f}x** |",
        f"| LangChain RAG tutorial (1000/200 chunks into Chroma, the same model; in process, model loaded) | {small_tutorial:.1f} s | {', '.join(f'{x:.1f}' for x in small['tutorial_s'])} | {small['characters'] / small_tutorial:,.0f} | 1.00x |",
        "",
        f"Where `qa ingest`'s time goes on these {small['articles']} articles (one more run, under cProfile, {prof['wall_s']:.1f} s):",
        "",
        "| part | seconds | share |",
        "| --- | --- | --- |",
        *[f"| {name} | {seconds:.1f} | {100 * seconds / prof['wall_s']:.0f}% |" for name, seconds in prof["buckets"].items()],
        "",
        f"## Ingest throughput: {ing['documents']} SQuAD 1.1 articles, {ing['characters']:,} characters",
        "",
        "| pipeline | wall time | characters/s | vs tutorial | vs raw encode |",
        "| --- | --- | --- | --- | --- |",
        f"| raw sentence-transformers `encode` of our {ing['passages']:,} passages (in process, model loaded) | {ing['raw_encode_s']:.1f} s | {tput(ing['raw_encode_s']):,.0f} | {ing['tutorial_s'] / ing['raw_encode_s']:.2f}x | 1.00x |",
        f"| `qa ingest` (new process: load, split, embed sentences, store, BM25 index) | {ing['ours_s']:.1f} s | {tput(ing['ours_s']):,.0f} | **{ing['tutorial_s'] / ing['ours_s']:.2f}x** | {ing['raw_encode_s'] / ing['ours_s']:.2f}x |",
        f"| LangChain RAG tutorial ({ing['tutorial_chunks']:,} chunks of 1000/200 into Chroma) | {ing['tutorial_s']:.1f} s | {tput(ing['tutorial_s']):,.0f} | 1.00x | {ing['raw_encode_s'] / ing['tutorial_s']:.2f}x |",
        "",
        "## Warm answer latency (retrieval + answer selection)",
        "",
        "Timed after a warm-up pass over as many other questions about the same documents (the seed corpus: the same "
        "eight questions), which reads what the page cache lacks of the store; both passes, each with what the "
        "process read from disk meanwhile.",
        "",
        "| corpus | passages | p50 | p95 | min | max | questions | read from disk | warm-up pass p50 / p95 | read from disk, warm-up pass |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, item in lat.items():
        s = item["latency"]
        warm = s["warm_pass"]
        lines.append(f"| {name} | {item['passages']:,} | {s['p50']} ms | {s['p95']} ms | {s['min']} ms | {s['max']} ms | {s['n']} "
                     f"| {s['disk_mb']} MB | {warm['p50']} / {warm['p95']} ms | {warm['disk_mb']} MB |")
    t = r["tutorial_search_latency"]
    lines += [
        f"| baseline: the tutorial's Chroma similarity search alone (SQuAD 1.1, {ing['tutorial_chunks']:,} chunks) | | {t['p50']} ms | {t['p95']} ms | {t['min']} ms | {t['max']} ms | {t['n']} | | | |",
        "",
        f"The synthetic corpus: passages of 3-5 real SQuAD 1.1 sentences, recombined, with the sentences' real vectors "
        f"(built once in {r['synthetic_build_s']} s this run; 0 when cached).",
        "",
        "![answer latency against corpus size](latency.png)",
        "",
        "## Cold start",
        "",
        "| command | median | runs |",
        "| --- | --- | --- |",
        f"| `qa ask \"What did Shoigu ask Wallace?\"` (new process) | {cold_ask:.2f} s | {', '.join(map(str, cold['qa_ask_s']))} |",
        f"| baseline: `python -c \"import sentence_transformers\"` | {cold_import:.2f} s | {', '.join(map(str, cold['import_sentence_transformers_s']))} |",
        f"| ratio | {cold_ask / cold_import:.2f}x | |",
        "",
        "## Peak memory (RSS)",
        "",
        "| corpus | `qa ask` | `qa ingest` | `qa serve` (after 20 answers) |",
        "| --- | --- | --- | --- |",
    ]
    for name, item in r["rss_mb"].items():
        ingest_rss = f"{item['qa_ingest']} MB" if "qa_ingest" in item else "built by bench/synthetic.py"
        lines.append(f"| {name} ({lat[name]['passages']:,} passages) | {item['qa_ask']} MB | {ingest_rss} | {item['qa_serve']} MB |")
    out = ROOT / "docs"
    out.mkdir(exist_ok=True)
    (out / "benchmarks.md").write_text("\n".join(lines) + "\n")

    sizes = [lat[n]["passages"] for n in lat]
    plt.figure(figsize=(6, 4))
    plt.plot(sizes, [lat[n]["latency"]["p50"] for n in lat], "o-", label="ours p50")
    plt.plot(sizes, [lat[n]["latency"]["p95"] for n in lat], "s--", label="ours p95")
    plt.axhline(t["p50"], color="grey", linestyle=":", label="tutorial similarity search p50 (2k chunks)")
    plt.xscale("log")
    plt.xlabel("passages in the corpus")
    plt.ylabel("warm answer latency (ms)")
    plt.title("Answer latency against corpus size (2 cores)")
    plt.legend()
    plt.grid(True, which="both", alpha=0.3)
    plt.tight_layout()
    plt.savefig(out / "latency.png", dpi=120)


if __name__ == "__main__":
    main()
