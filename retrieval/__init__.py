"""Turns documents into cited answers: load -> split -> embed -> store -> retrieve -> answer.

The public API, what the CLI, the Slack app and the benchmarks use. Names resolve lazily, so
`import retrieval` stays cheap (torch and chromadb load only when a name that needs them is used).
"""

from __future__ import annotations

import importlib

__all__ = ["Answer", "Citation", "Engine", "IngestReport", "Settings"]

_WHERE = {"Answer": "types", "Citation": "types", "Engine": "chain", "IngestReport": "ingest", "Settings": "settings"}


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module 'retrieval' has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
