"""Errors a user can act on: each says what went wrong and what to do about it.

The CLI and the web app print ``str(error)``; a stack trace is never the message.
"""


class RagError(Exception):
    """Base class: a message plus what to do next."""

    def __init__(self, message: str, hint: str = ""):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\n  → {self.hint}" if self.hint else self.message


class IndexMissing(RagError):
    """No index at the given folder."""


class IndexIncompatible(RagError):
    """The index was built with another model, chunking or format version."""


class IndexCorrupt(RagError):
    """Index files are unreadable, truncated or inconsistent."""


class IndexWriteFailed(RagError):
    """A new index generation could not be written (disk full, file too large, permissions)."""


class IndexBusy(RagError):
    """Another process is writing the index."""


class BadInput(RagError):
    """A question, query or file the product cannot use as given."""


class BackendUnavailable(RagError):
    """The configured LLM endpoint did not answer in time or failed."""


class StoreUnavailable(RagError):
    """A server store (PostgreSQL, Milvus) could not be reached or failed mid-query."""
