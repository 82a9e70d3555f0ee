"""Several rankings of the same passages into one: weighted reciprocal-rank fusion.

Rank, not score: dense cosine similarities and BM25 scores live on different scales, and
scores scaled to [0, 1] per side recalled less on every development set
(bench/tune_retrieval.py).
"""

from __future__ import annotations

from collections.abc import Sequence

Ranking = Sequence[tuple[str, float]]  # (passage id, score), best first


def reciprocal_rank(rankings: Sequence[tuple[Ranking, float]], k: int) -> dict[str, float]:
    """Each (ranking, weight) adds weight / (k + rank) to the passages it ranks (rank from 1)."""
    fused: dict[str, float] = {}
    for ranking, weight in rankings:
        for rank, (pid, _) in enumerate(ranking, start=1):
            fused[pid] = fused.get(pid, 0.0) + weight / (k + rank)
    return fused
