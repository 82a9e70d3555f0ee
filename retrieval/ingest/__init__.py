"""Documents in, passages stored: loaders.py reads files (what may be read is decided there),
splitting.py cuts them into sentence-aligned passages, pipeline.py embeds and commits each
document whole into the store, idempotently and crash-safely.

`retrieval.ingest` is also the public `ingest` function: once this package is imported,
Python binds the name `ingest` in `retrieval` to it, so `from retrieval import ingest` gives
this module, which calls pipeline.ingest.
"""

from __future__ import annotations

import sys
import types


class _IngestModule(types.ModuleType):
    def __call__(self, *args, **kwargs):
        from .pipeline import ingest

        return ingest(*args, **kwargs)


sys.modules[__name__].__class__ = _IngestModule
