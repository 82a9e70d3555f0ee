"""Where the shipped corpus and the evaluation data are, and the sentence that answers the
seed question."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SEED_CORPUS = ROOT / "corpus"
SEED_FILE = SEED_CORPUS / "wallace-shoigu-2022-02-11.txt"
EVAL_DIR = Path(os.environ.get("QA_EVAL_DIR") or ROOT.parent / "shared" / "eval")
SHOIGU_SENTENCE = "Shoigu asked Wallace to explain why the UK has deployed its special forces troops in Ukraine"
