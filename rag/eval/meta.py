"""The checker checked: gold answers corrupted (a number changed, a name swapped, a negation
added, the citation pointed at an unrelated passage, an unrelated sentence inserted); how many
corruptions it catches and how many clean answers it wrongly flags."""

from __future__ import annotations

import re
from dataclasses import dataclass

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
        out["number changed"] = (
            sentence[: number.start()]
            + str(int(number.group()) + 1)
            + sentence[number.end() :]
            + " [1]"
        )
    names = [f for f, t in analyze([sentence])[0] if t == "NNP" and len(f) > 1]
    if names and other_name:
        out["name swapped"] = sentence.replace(names[0], other_name, 1) + " [1]"
    out["negation added"] = sentence.rstrip(". ") + "는 것은 사실이 아니다. [1]"
    out["citation to the wrong passage"] = f"{sentence} [2]"
    out["unrelated sentence inserted"] = f"{sentence} [1] {unrelated} [1]"
    return out


@dataclass(frozen=True)
class GoldCase:
    """A correct cited answer: ``sentence`` quoted from ``passage`` (cited as [1]); ``unrelated``
    is a sentence of another article (passage [2]) and ``other_name`` a name found only there."""

    sentence: str
    passage: str
    unrelated: str
    other_name: str


def _gold_case(row: dict, articles: dict, proper: dict) -> GoldCase | None:
    """The gold answer of an answerable question: the sentence of its source article holding
    its evidence span (the suite's ``passage``, else its expected answer)."""
    article = articles[row["sources"][0]]
    span = row.get("passage", "").split("\n")[0] or row["expected"][0]
    at = article.text.find(span)
    spans = split_sentences(article.text)
    sentence = next((s.text for s in spans if s.start <= at < s.end), None) if at >= 0 else None
    if sentence is None:
        return None
    line_start = article.text.rfind("\n", 0, at) + 1
    line_end = article.text.find("\n", at + len(span))
    end = (line_end if line_end > 0 else len(article.text)) + 300
    passage = article.text[max(0, line_start - 300) : end]
    others = [n for n in articles if n != row["sources"][0]]
    other = articles[others[len(row["question"]) % len(others)]]
    unrelated = max((s.text for s in split_sentences(other.text) if len(s.text) < 200), key=len)
    other_name = next((f for f in proper[other.source] if f not in passage), "")
    return GoldCase(sentence.replace("\n", " "), passage, unrelated, other_name)


def gold_cases(suite: Suite) -> list[GoldCase]:
    """The gold answers of the suite's answerable questions whose evidence is found."""
    articles = {p.name: read_article(p) for p in sorted(suite.corpus.glob("*.txt"))}
    proper = {
        name: [f for f, t in analyze([a.text[:3000]])[0] if t == "NNP" and len(f) > 1]
        for name, a in articles.items()
    }
    rows = [r for r in suite.questions if r["answerable"] and r["sources"][0] in articles]
    cases = [_gold_case(row, articles, proper) for row in rows] if len(articles) > 1 else []
    return [c for c in cases if c is not None]


def meta_evaluate(suite: Suite) -> dict:
    """How often the checker catches corrupted answers, and wrongly flags clean ones."""
    clean_flagged = 0
    caught: dict[str, list[int]] = {}
    cases = gold_cases(suite)
    for case in cases:
        passages = [case.passage, case.unrelated]
        clean_flagged += not all(c.supported for c in cite.check(f"{case.sentence} [1]", passages))
        for kind, text in corruptions(case.sentence, case.other_name, case.unrelated).items():
            flagged = not all(c.supported for c in cite.check(text, passages))
            caught.setdefault(kind, []).append(flagged)
    total = sum(len(v) for v in caught.values())
    return {
        "clean_answers": len(cases),
        "clean_flagged": round(clean_flagged / len(cases), 4) if cases else None,
        "corruptions": total,
        "caught": round(sum(sum(v) for v in caught.values()) / total, 4) if total else None,
        "by_kind": {
            k: {"n": len(v), "caught": round(sum(v) / len(v), 4)} for k, v in caught.items()
        },
    }
