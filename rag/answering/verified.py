"""An LLM's answer, checked sentence by sentence while it streams: tokens in, checked sentences
out. A sentence is shown only once the citation checker has passed it, so a reader never sees
a sentence the product later removes; the sentences shown are the answer that is kept.

    gate = VerifiedStream(question, passages, settings, on_sentence)
    generate(..., on_token=gate.feed); checks = gate.finish()

A sentence is complete once the next one has begun with a word (its markers may follow its
full stop: "…했다. [2] 또한" gives "[2]" to the first sentence). Supported means what
``cite.check_sentence`` says, and that a cited passage meets the question's constraints
(an answer about the 57th meeting does not answer a question about the 58th).
"""

from __future__ import annotations

import re
from dataclasses import replace

from . import cite
from .question import analyse
from .reader import absent_names, constraint_failure, passage_countries

_WORD = re.compile(r"[^\W\d_]")


class VerifiedStream:
    """Feed it tokens; it calls ``on_sentence(text)`` for each sentence that passes the checker
    (with ``unsupported="flag"``, failing sentences too, marked), in order."""

    def __init__(self, question: str, passages: list, settings, on_sentence=None):
        self.q, self.passages = analyse(question), passages
        self.texts = [p.text for p in passages]
        self.flag = settings.unsupported == "flag"
        self.on_sentence = on_sentence
        self.buffer, self.checks = "", []

    def feed(self, token: str) -> None:
        self.buffer += token
        parts = cite.claims(self.buffer)
        if len(parts) > 1 and _WORD.search(parts[-1]):  # the last sentence has begun
            for claim in parts[len(self.checks) : -1]:
                self._check(claim)

    def finish(self) -> list[cite.SentenceCheck]:
        """Check what is left; every sentence's check, in order."""
        for claim in cite.claims(self.buffer)[len(self.checks) :]:
            self._check(claim)
        return self.checks

    def _check(self, claim: str) -> None:
        c = meets(self.q, cite.check_sentence(claim, self.texts), self.passages)
        self.checks.append(c)
        if self.on_sentence and (c.supported or self.flag):
            self.on_sentence(shown(c))


def shown(c: cite.SentenceCheck) -> str:
    """A checked sentence as the answer shows it: as written, or marked when it failed."""
    return c.text if c.supported else f"{c.text} ⚠️(unsupported: {c.reason})"


def meets(q, check: cite.SentenceCheck, passages) -> cite.SentenceCheck:
    """A supported claim whose every cited passage breaks a constraint of the question is not."""
    if not check.supported:
        return check
    failures = [
        constraint_failure(q, check.text, passages[n - 1], passage_countries(passages[n - 1]))
        for n in check.cited
    ]
    failures = [
        f or (f"entity:{absent[0]}" if (absent := absent_names(q, [passages[n - 1]])) else "")
        for f, n in zip(failures, check.cited)
    ]
    if all(failures):
        what, _, value = failures[0].partition(":")
        kind = {"number": "number", "country": "country"}.get(what, "subject")
        reason = f"about another {kind} than the question asks ({value})"
        return replace(check, supported=False, reason=reason)
    return check
