"""The evaluation sets and the corpora they are asked of, shared by bench/quality.py and the
tuning scripts.

Each set is documents plus questions, split into a development part (tuned on) and a
held-out part (never tuned on). Every set is asked twice: of a corpus holding only its
documents, and of a mixed corpus where they sit among some 200 unrelated documents (the
other sets, and the SQuAD development paragraphs as separate documents), because answers
and abstention must not degrade as a corpus grows.

SQuAD 2.0's first five articles are the project's original development set (no held-out
part of its own); the 43 other SQuAD 1.1 development articles are the untouched check,
reported by bench/quality.py --heldout-squad and never used for choosing anything.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EVAL = ROOT.parent / "shared" / "eval"
SETS_DIR = ROOT / "bench" / "sets"
SQUAD2_FIRST5 = EVAL / "squad-v2.0-dev-first5.json"
SQUAD11 = EVAL / "squad-v1.1-dev.json"
FIRST5_TITLES = {"Normans", "Computational_complexity_theory", "Southern_California", "Sky_(United_Kingdom)",
                 "Victoria_(Australia)"}


@dataclass(frozen=True)
class EvalSet:
    name: str
    documents: tuple[Path, ...]  # what `qa ingest` is given
    dev: Path
    heldout: Path | None = None


def eval_sets() -> list[EvalSet]:
    sets = [EvalSet("seed", (ROOT / "corpus",), EVAL / "seed_dev.jsonl"),
            EvalSet("paraphrase", (ROOT / "corpus",), SETS_DIR / "paraphrase" / "dev.jsonl",
                    SETS_DIR / "paraphrase" / "heldout.jsonl")]
    for name in ("news", "snippets"):
        folder = SETS_DIR / name
        if (folder / "dev.jsonl").is_file():
            sets.append(EvalSet(name, (folder / "documents",), folder / "dev.jsonl", folder / "heldout.jsonl"))
    sets.append(EvalSet("squad2-first5", (SQUAD2_FIRST5,), SQUAD2_FIRST5))
    return sets


def off_topic(part: str) -> list[str]:
    """Questions no evaluation corpus answers (bench/sets/offtopic/), part "dev" or "heldout"."""
    return [line.strip() for line in (SETS_DIR / "offtopic" / f"{part}.txt").read_text().splitlines() if line.strip()]


def squad_paragraph_documents(target: Path) -> Path:
    """The SQuAD 2.0 development paragraphs as one text file each: unrelated documents to mix
    into the other sets' corpora."""
    if target.is_dir():
        return target
    tmp = target.with_name(target.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for article in json.loads(SQUAD2_FIRST5.read_text())["data"]:
        for number, paragraph in enumerate(article["paragraphs"], 1):
            (tmp / f"{article['title']}-{number:03d}.txt").write_text(paragraph["context"].strip() + "\n")
    tmp.rename(target)
    return target


def mixed_documents(target_set: EvalSet, sets: list[EvalSet], cache: Path) -> list[Path]:
    """`target_set`'s documents among everything else: the other sets' documents, and the
    SQuAD paragraphs as separate documents (or, for the SQuAD set, everything else)."""
    others = [p for s in sets if s.documents != target_set.documents for p in s.documents if p != SQUAD2_FIRST5]
    others = list(dict.fromkeys(others))
    if target_set.documents != (SQUAD2_FIRST5,):
        others.append(squad_paragraph_documents(cache / "squad-paragraphs"))
    return [*target_set.documents, *others]


def heldout_squad11(target: Path) -> Path:
    """The 43 SQuAD 1.1 development articles outside the five development ones, as a SQuAD
    file of their own: the untouched check of generalisation."""
    if not target.is_file():
        data = json.loads(SQUAD11.read_text())
        data["data"] = [a for a in data["data"] if a["title"] not in FIRST5_TITLES]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(data))
    return target
