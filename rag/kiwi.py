"""The Kiwi analyser: loaded once, in this process or in a helper process.

Kiwi's load is the largest part of a cold `rag ask` (figures in the README), and Kiwi builds
its dictionaries while it holds Python's lock, so a thread cannot load it beside the index and
the query model. A one-question command therefore starts a helper process first
(``load_in_helper``): it loads Kiwi on the other core while this process loads the rest, and
then analyses the texts sent to it. Everything else uses Kiwi in this process, loaded on first
use.

    >>> [(t.form, t.tag) for t in next(iter(tokenize(["한미 양국은"])))]
    [('한미', 'NNP'), ('양국', 'NNG'), ('은', 'JX')]

A token has ``form``, ``tag``, ``start`` and ``len`` (Kiwi's ``Token``, or a ``Morpheme`` from
the helper).
"""

from __future__ import annotations

import functools
import os
import pickle
import subprocess
import sys
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple


class Morpheme(NamedTuple):
    """One of Kiwi's tokens: its form, tag and place (``start``, ``len``) in the text."""

    form: str
    tag: str
    start: int
    len: int


_loading = threading.Lock()
_helper_lock = threading.Lock()
_helper: subprocess.Popen | None = None


def load_kiwi():
    """The Kiwi analyser in this process, loaded once, on first use (a caller waits while
    another loads it)."""
    with _loading:
        return _load_kiwi()


@functools.lru_cache(maxsize=1)
def _load_kiwi():
    """The Kiwi analyser, without two of its dictionaries, which slow every cold start (each
    ingest, each cold ``rag ask``, each server start).

    - The typo dictionary (informal endings like "슴다", common misspellings): news text has few
      typos.
    - The multi-word dictionary (250,000 names with spaces, from Wikidata: "폴 매카트니",
      "조지 워커 부시"). With it such a name is one token, which a question naming the person
      by one word ("매카트니는 …") cannot match in keyword search; without it both sides get
      the words. Kiwi's load and first analysis 3.0 → 1.25 s; figures in the README."""
    from kiwipiepy import Kiwi

    return Kiwi(
        num_workers=min(4, os.cpu_count() or 1), load_typo_dict=False, load_multi_dict=False
    )


def load_in_helper() -> None:
    """Start loading Kiwi in a helper process, which then does this process's analyses. For
    commands that answer one question and exit; a process that stays (the web chat, the API)
    loads Kiwi itself. The helper ends when this process does (its input closes)."""
    global _helper
    here = str(Path(__file__).resolve().parents[1])  # this rag package, whatever the path
    paths = [here, *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
    with _helper_lock:
        if _helper is None:
            try:
                _helper = subprocess.Popen(
                    [sys.executable, "-m", "rag.kiwi"],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    env=env,
                )
            except OSError:
                _helper = None  # Kiwi loads in this process instead, on first use


def tokenize(texts: list[str]) -> Iterable[list]:
    """Kiwi's tokens of each text, in order: from the helper if one was started, else from this
    process's Kiwi. A helper that has died is replaced by this process's Kiwi."""
    global _helper
    with _helper_lock:
        if _helper is not None:
            try:
                return _ask_helper(_helper, texts)
            except (EOFError, OSError, pickle.UnpicklingError):
                _helper.kill()
                _helper = None
    return load_kiwi().tokenize(texts)


def _ask_helper(helper: subprocess.Popen, texts: list[str]) -> list[list[Morpheme]]:
    pickle.dump(texts, helper.stdin)
    helper.stdin.flush()
    status, value = pickle.load(helper.stdout)
    if status != "ok":
        raise RuntimeError(f"Kiwi failed in its helper process: {value}")
    return [[Morpheme(*t) for t in tokens] for tokens in value]


def _serve() -> None:
    """The helper's loop: texts in, tokens out (pickled on its standard input and output),
    until its input closes. Anything else written to standard output goes to standard error,
    so that only answers reach the pipe."""
    answers = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    kiwi = load_kiwi()
    kiwi.tokenize("준비")  # Kiwi builds its dictionaries on its first analysis: before one is asked
    while True:
        try:
            texts = pickle.load(sys.stdin.buffer)
        except EOFError:
            return
        try:
            reply = (
                "ok",
                [[(t.form, t.tag, t.start, t.len) for t in ts] for ts in kiwi.tokenize(texts)],
            )
        except Exception as e:  # sent back: the asking process raises it
            reply = ("error", f"{type(e).__name__}: {e}")
        try:
            pickle.dump(reply, answers)
            answers.flush()
        except BrokenPipeError:  # the asking process has ended
            return


if __name__ == "__main__":
    _serve()
