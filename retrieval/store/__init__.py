"""Chroma underneath everything: client.py opens it (embedded or a server), naming.py builds
every collection name, id and cache path, corpus.py reads and writes one corpus,
process_lock.py keeps an embedded store to one process, lease.py a corpus to one writer,
reachability.py turns a server's failures into one error. It imports nothing above it."""
