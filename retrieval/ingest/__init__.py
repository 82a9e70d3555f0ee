"""Documents in, passages stored: loaders.py reads files (what may be read is decided there),
splitting.py cuts them into sentence-aligned passages, pipeline.py embeds and commits each
document whole into the store, idempotently and crash-safely."""
