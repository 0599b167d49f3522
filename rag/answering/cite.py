"""The citation checker: is every answer sentence supported by the passages it cites?

Used on every answer, whoever wrote it (the extractive composer or an LLM), and by the
evaluation harness to score faithfulness. A sentence is supported when:

1. it cites at least one passage that exists (``[n]`` with 1 ≤ n ≤ len(passages));
2. a quotation in it (“…” or "…", 8+ characters) appears verbatim in what it cites, or,
   with no quotation, every number, Latin-script name and proper noun in it appears in
   the cited text, most of its content morphemes (``min_coverage``) do too, and the
   cited sentence closest to it agrees with it on negation.

    >>> passage = "…2026년까지 ‘미래연합군사령부 완전운용능력(FOC)’ 검증을 추진하기로 합의했다."
    >>> check("한국군은 2026년까지 FOC 검증을 추진한다 [1].", [passage])[0].supported
    True
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..chunking import looks_like_instruction, split_sentences
from ..keywords import KEEP_TAGS, analyze

MARKER = re.compile(r"\s*\[(\d{1,3})\]")
QUOTE = re.compile(r"[“\"]([^”\"]{8,})[”\"]")
OUTER_QUOTE = re.compile(r"“(.{8,})”")  # from the first opening to the last closing quote
SHORT_ANSWER = re.compile(r"^\s*\*\*(.+?)\*\*\s*—\s*")
NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
NEGATION = {("않", "VX"), ("안", "MAG"), ("못", "MAG"), ("아니", "VCN"), ("없", "VA"), ("말", "VX")}
ENGLISH_NEGATION = re.compile(r"\b(?:not|no|never|n't|neither|nor)\b", re.I)
MIN_COVERAGE = 0.7


def _evidence(text: str) -> str:
    """The passage with its instruction-like sentences taken out: they support nothing."""
    return "\n".join(s.text for s in split_sentences(text) if not looks_like_instruction(s.text))


@dataclass(frozen=True)
class SentenceCheck:
    text: str
    cited: tuple[int, ...]
    supported: bool
    reason: str = ""


def markers(sentence: str) -> tuple[int, ...]:
    """The passage numbers a sentence cites, in order, without repeats."""
    seen: list[int] = []
    for m in MARKER.finditer(sentence):
        n = int(m.group(1))
        if n not in seen:
            seen.append(n)
    return tuple(seen)


def strip_markers(text: str) -> str:
    return MARKER.sub("", text).strip()


def claims(answer: str) -> list[str]:
    """The claims of an answer (its sentences), each keeping the markers that follow its full
    stop."""
    out: list[str] = []
    for span in split_sentences(answer):
        text = span.text
        leading = re.match(r"(?:\[\d{1,3}\]\s*)+", text)
        if out and leading:  # markers written after the full stop belong to the sentence before
            out[-1] += " " + leading.group().strip()
            text = text[leading.end() :].strip()
        if text:
            out.append(text)
    return out


def _numbers(text: str) -> set[str]:
    return {n.replace(",", "") for n in NUMBER.findall(text)}


def _normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _negations(morphemes: list[tuple[str, str]], text: str) -> int:
    """How many negations: a double negation must not pass for the original statement."""
    return sum(m in NEGATION for m in morphemes) + len(ENGLISH_NEGATION.findall(text))


def check_sentence(
    sentence: str, passages: list[str], min_coverage: float = MIN_COVERAGE
) -> SentenceCheck:
    """Check one answer sentence against the passages (numbered from 1)."""
    cited = markers(sentence)
    valid = tuple(n for n in cited if 1 <= n <= len(passages))
    if not cited:
        return SentenceCheck(sentence, cited, False, "cites nothing")
    if not valid:
        return SentenceCheck(sentence, cited, False, "cites a passage that does not exist")
    evidence = "\n".join(_evidence(passages[n - 1]) for n in valid)
    claim = strip_markers(sentence)
    lead = SHORT_ANSWER.match(claim)  # "**2026년** — …": the short answer, itself a quotation
    if lead and _normalise(lead.group(1)) not in _normalise(evidence):
        return SentenceCheck(
            sentence, valid, False, f"short answer not in the cited text: {lead.group(1)[:40]}"
        )
    claim = claim[lead.end() :] if lead else claim
    reason = _unsupported(
        claim.replace("**", ""), evidence, min_coverage
    )  # bold inside: formatting
    return SentenceCheck(sentence, valid, reason is None, reason or "")


def _unsupported(claim: str, evidence: str, min_coverage: float) -> str | None:
    """Why ``evidence`` does not support ``claim``, or None when it does."""
    outer = OUTER_QUOTE.search(claim)
    if outer and not re.search(r"[가-힣]", claim[: outer.start()] + claim[outer.end() :]):
        quotes = [outer.group(1)]  # an English frame around one quoted sentence, quotes inside it
    else:
        quotes = QUOTE.findall(claim)
    if quotes:
        flat = _normalise(evidence)
        missing = [q for q in quotes if _normalise(q) not in flat]
        if missing:
            return f"quote not in the cited text: {missing[0][:40]}"
        if outer and quotes == [outer.group(1)] or not re.search(r"[가-힣]", QUOTE.sub("", claim)):
            return None  # an English frame around verbatim quotes
        # A Korean frame around the quote is a claim too: check it like any sentence.
    missing_numbers = _numbers(claim) - _numbers(evidence)
    if missing_numbers:
        return f"number not in the cited text: {', '.join(sorted(missing_numbers))}"
    return _unsupported_words(claim, evidence, min_coverage)


def _unsupported_words(claim: str, evidence: str, min_coverage: float) -> str | None:
    """Names, most content morphemes and negation of ``claim`` against the evidence."""
    evidence_sentences = [s.text for s in split_sentences(evidence)]
    claim_m, *sentence_m = analyze([claim] + evidence_sentences)
    forms = {f.lower() for ms in sentence_m for f, _ in ms}
    flat = evidence.lower()

    def found(word: str) -> bool:
        return word in forms or word in flat

    content = [f.lower() for f, t in claim_m if t.startswith(KEEP_TAGS) or t in ("SL", "SN")]
    absent = [f.lower() for f, t in claim_m if t in ("NNP", "SL", "SH") and not found(f.lower())]
    if absent:
        return f"name not in the cited text: {absent[0]}"
    coverage = sum(map(found, content)) / len(content) if content else 1.0
    if coverage < min_coverage:
        return f"only {coverage:.0%} of its words are in the cited text"
    if _negation_differs(claim, claim_m, set(content), sentence_m, evidence_sentences):
        return "negation differs from the cited text"
    return None


def _negation_differs(
    claim: str, claim_m, content: set[str], sentence_m, sentences: list[str]
) -> bool:
    """Whether the cited sentence closest to the claim (most content morphemes shared) disagrees
    with it on negation ("합의했다" vs "합의하지 않았다")."""
    overlap = [len(content & {f.lower() for f, _ in ms}) for ms in sentence_m]
    if not overlap:
        return False
    best = overlap.index(max(overlap))
    return _negations(claim_m, claim) != _negations(sentence_m[best], sentences[best])


def check(
    answer: str, passages: list[str], min_coverage: float = MIN_COVERAGE
) -> list[SentenceCheck]:
    """Check every sentence of an answer."""
    return [check_sentence(s, passages, min_coverage) for s in claims(answer)]
