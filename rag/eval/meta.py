"""The checker checked: gold answers corrupted (a number changed, a name swapped, a negation
added, the citation pointed at an unrelated passage, an unrelated sentence inserted); how many
corruptions it catches and how many clean answers it wrongly flags."""

from __future__ import annotations

import re

from ..answering import cite
from ..articles import read_article
from ..chunking import split_sentences
from ..keywords import analyze
from .suites import Suite


def corruptions(sentence: str, other_name: str, unrelated: str) -> dict[str, str]:
    """Corrupted copies of a correct cited answer "sentence [1]" (passage 2 is unrelated)."""
    out = {}
    number = re.search(r"\d+", sentence)
    if number:
        out["number changed"] = sentence[: number.start()] + str(int(number.group()) + 1) + sentence[number.end():] + " [1]"
    names = [f for f, t in analyze([sentence])[0] if t == "NNP" and len(f) > 1]
    if names and other_name:
        out["name swapped"] = sentence.replace(names[0], other_name, 1) + " [1]"
    out["negation added"] = sentence.rstrip(". ") + "는 것은 사실이 아니다. [1]"
    out["citation to the wrong passage"] = f"{sentence} [2]"
    out["unrelated sentence inserted"] = f"{sentence} [1] {unrelated} [1]"
    return out


def meta_evaluate(suite: Suite) -> dict:
    """How often the checker catches corrupted answers, and wrongly flags clean ones."""
    articles = {p.name: read_article(p) for p in sorted(suite.corpus.glob("*.txt"))}
    proper = {name: [f for f, t in analyze([a.text[:3000]])[0]
                     if t == "NNP" and len(f) > 1] for name, a in articles.items()}
    clean_total = clean_flagged = 0
    caught: dict[str, list[int]] = {}
    for row in suite.questions:
        if not row["answerable"] or row["sources"][0] not in articles:
            continue
        article = articles[row["sources"][0]]
        span = row["passage"].split("\n")[0]
        at = article.text.find(span)
        sentence = next((s.text for s in split_sentences(article.text) if s.start <= at < s.end), None)
        if sentence is None:
            continue
        sentence = sentence.replace("\n", " ")
        line_start = article.text.rfind("\n", 0, at) + 1
        line_end = article.text.find("\n", at + len(span))
        passage = article.text[max(0, line_start - 300): (line_end if line_end > 0 else len(article.text)) + 300]
        others = [n for n in articles if n != row["sources"][0]]
        other = articles[others[len(row["question"]) % len(others)]]
        unrelated = max((s.text for s in split_sentences(other.text) if len(s.text) < 200), key=len)
        other_name = next((f for f in proper[other.source] if f not in passage), "")
        passages = [passage, unrelated]
        clean_total += 1
        clean_flagged += not all(c.supported for c in cite.check(f"{sentence} [1]", passages))
        for kind, text in corruptions(sentence, other_name, unrelated).items():
            caught.setdefault(kind, []).append(not all(c.supported for c in cite.check(text, passages)))
    total = sum(len(v) for v in caught.values())
    return {
        "clean_answers": clean_total,
        "clean_flagged": round(clean_flagged / clean_total, 4) if clean_total else None,
        "corruptions": total,
        "caught": round(sum(sum(v) for v in caught.values()) / total, 4) if total else None,
        "by_kind": {k: {"n": len(v), "caught": round(sum(v) / len(v), 4)} for k, v in caught.items()},
    }
