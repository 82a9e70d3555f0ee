"""Errors a user can act on. Front ends show the message alone, without a traceback."""


class QAError(Exception):
    """Something the user can fix; the message says how."""


class UsageError(QAError):
    """Bad input on the command line (exit status 2)."""


class CorpusNotFound(QAError):
    def __init__(self, corpus: str):
        super().__init__(
            f"corpus '{corpus}' has not been ingested yet; run: qa ingest PATH --corpus {corpus}"
        )
        self.corpus = corpus


class StoreUnavailable(QAError):
    """The Chroma server cannot be reached."""
