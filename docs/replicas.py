"""Draws docs/replicas.png, the deployment of several `qa serve` replicas (README, "Running
several replicas"). Needs the bench extra (matplotlib):

    .venv/bin/python docs/replicas.py
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display needed
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch  # noqa: E402

OUT = Path(__file__).with_name("replicas.png")
BOXES = {  # name: (x, y, width, height, label, colour)
    "slack": (0.5, 8.2, 9.0, 1.2, "Slack\nEvents API over HTTP  |  or Socket Mode (one WebSocket per replica)", "#e8e0f5"),
    "lb": (2.6, 6.4, 4.8, 0.9, "load balancer (HTTP mode only)\nany replica, no sticky sessions", "#f3f3f3"),
    "a": (0.5, 4.0, 2.6, 1.5, "qa serve\nreplica A", "#dcecf9"),
    "b": (3.7, 4.0, 2.6, 1.5, "qa serve\nreplica B", "#dcecf9"),
    "n": (6.9, 4.0, 2.6, 1.5, "qa serve\nreplica ...", "#dcecf9"),
    "chroma": (0.5, 1.0, 4.0, 1.7, "Chroma server\nCHROMA_HOST / CHROMA_PORT\npassages + embeddings", "#e2f3e0"),
    "pg": (5.5, 1.0, 4.0, 1.7, "PostgreSQL  (QA_STATE_URL)\nevent claims, threads, answers,\nvotes, assistant contexts", "#fbe9d7"),
}
ARROWS = [("slack", "lb"), ("lb", "a"), ("lb", "b"), ("lb", "n"),
          ("a", "chroma"), ("b", "chroma"), ("n", "chroma"), ("a", "pg"), ("b", "pg"), ("n", "pg")]


def centre(name: str, edge: str) -> tuple[float, float]:
    x, y, w, h, *_ = BOXES[name]
    return (x + w / 2, y) if edge == "bottom" else (x + w / 2, y + h)


def main() -> None:
    fig, ax = plt.subplots(figsize=(9, 8.2), dpi=120)
    ax.set_xlim(0, 10)
    ax.set_ylim(-0.1, 9.8)
    ax.axis("off")
    for x, y, w, h, label, colour in BOXES.values():
        ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.05", facecolor=colour, edgecolor="#555"))
        ax.text(x + w / 2, y + h / 2, label, ha="center", va="center", fontsize=9.5)
    for start, end in ARROWS:
        ax.add_patch(FancyArrowPatch(centre(start, "bottom"), centre(end, "top"), arrowstyle="-|>", mutation_scale=12,
                                     color="#444", linewidth=1))
    ax.text(5, 0.55, "qa ingest (any machine) writes the index;  qa feedback / qa doctor read the state",
            ha="center", fontsize=8.5, style="italic")
    ax.text(5, 0.15, "each replica: the same SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET or SLACK_APP_TOKEN, corpus and "
            "access settings", ha="center", fontsize=8.5)
    ax.set_title("qa-bot: several replicas, one index, one state database", fontsize=12)
    fig.tight_layout()
    fig.savefig(OUT)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
