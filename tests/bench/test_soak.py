"""The short version of the soak (bench/soak.py): half a minute of mixed Slack traffic to a
real `qa serve` on a Chroma server, with an ingest in the middle. The script checks that
every question is answered once, every click recorded, the new document answerable and the
memory flat; it exits 1 otherwise."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.support.seed import ROOT

pytestmark = pytest.mark.integration


def test_a_short_soak_passes_every_check(tmp_path):
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "soak.py"), "--minutes", "0.5", "--rate", "3"],
                          capture_output=True, text=True, timeout=600)
    report = json.loads(done.stdout[done.stdout.index("{"):])
    assert done.returncode == 0, report["checks"]
    assert report["questions"] > 40 and report["canary_answered"] > 0 and report["duplicated"] == 0


def test_a_short_soak_on_two_replicas_with_one_killed_answers_every_question_once_and_loses_none():
    """Retries land on the other replica; the replicas share a Chroma server and PostgreSQL.
    A third of the way in one replica is SIGKILLed just after acknowledging a burst of
    questions: Slack sends no retry for those, and the other replica's sweeper answers them."""
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "soak.py"), "--minutes", "0.5", "--rate", "3",
                           "--replicas", "2", "--kill"], capture_output=True, text=True, timeout=600)
    report = json.loads(done.stdout[done.stdout.index("{"):])
    assert done.returncode == 0, report["checks"]
    assert report["replicas"] == 2 and report["acked"] == report["questions"] > 40 and report["unanswered"] == 0
    killed = report["killed_replica"]
    assert killed["mid_answer_when_killed"] > 0 and killed["lost"] == 0
    assert killed["answered_once"] == killed["mid_answer_when_killed"]
    assert report["answered_exactly_once"] + killed["posted_then_answered_again"] == report["questions"]
