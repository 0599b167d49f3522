"""Date resolution benchmark (`rag bench dates`): ``rag.dates`` on the table in
``rag/data/dates/dates.jsonl``: relative dates in real sentences of KorQuAD 1.0 dev paragraphs
(articles 0–69: dev, 70–139: test), of the seed articles (dev) and of the English news pages of
the article-extraction benchmark (its dev and test halves), each with the date a person
resolved by reading the paragraph ("" where the words name no particular date). A row is right
when the resolver, reading the whole article, gives that date at that place, or, for "", none.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from ..articles import parse_article, read_article
from ..dates import resolve
from ..eval.korquad import KORQUAD_FILE

TABLE = Path(__file__).resolve().parents[1] / "data" / "dates" / "dates.jsonl"
SEEDS = Path(__file__).resolve().parents[1] / "data" / "seeds"
PAGES = Path(__file__).resolve().parents[1] / "data" / "article-extraction" / "html"


def _text(source: str, data: list) -> tuple[str, int]:
    """The whole article a row's sentence is in, as ingest indexes it (a KorQuAD article's
    paragraphs one per line), and where the row's paragraph starts in it."""
    kind, _, where = source.partition(":")
    if kind == "seed":
        return read_article(SEEDS / where).text, 0
    if kind == "page":
        with gzip.open(PAGES / f"{where}.html.gz", "rb") as f:
            return parse_article(f.read(), Path(f"{where}.html")).text, 0
    article, paragraph = (int(n) for n in where.split(":"))
    contexts = [p["context"] for p in data[article]["paragraphs"]]
    return "\n".join(contexts), sum(len(c) + 1 for c in contexts[:paragraph])


def run() -> dict:
    rows = [json.loads(line) for line in TABLE.read_text(encoding="utf-8").splitlines() if line]
    data = json.loads(KORQUAD_FILE.read_text(encoding="utf-8"))["data"]
    out: dict = {}
    for row in rows:
        text, offset = _text(row["source"], data)
        found = {m.start: m.value for m in resolve(text, row["published"])}
        got = found.get(offset + row["start"], "")
        split = out.setdefault(row["split"], {"rows": 0, "right": 0, "wrong": []})
        language = "english" if row["source"].startswith("page:") else "korean"
        tally = split.setdefault(language, {"rows": 0, "right": 0})
        split["rows"] += 1
        tally["rows"] += 1
        if got == row["date"]:
            split["right"] += 1
            tally["right"] += 1
        else:
            split["wrong"].append({**row, "got": got})
    for split in out.values():
        split["accuracy"] = round(split["right"] / split["rows"], 3)
    return out


def format_table(result: dict) -> str:
    lines = ["split  rows  right  accuracy  korean  english"]
    for name, r in result.items():
        by_language = [
            f"{r[k]['right']:>3}/{r[k]['rows']:<3}" if k in r else "  –    "
            for k in ("korean", "english")
        ]
        lines.append(
            f"{name:<6} {r['rows']:>4}  {r['right']:>5}  {r['accuracy']:.3f}     "
            + "  ".join(by_language)
        )
    for name, r in result.items():
        for w in r["wrong"]:
            lines.append(
                f"  {name} {w['source']} {w['text']!r}: expected {w['date'] or 'none'}, "
                f"got {w['got'] or 'none'}"
            )
    return "\n".join(lines)
