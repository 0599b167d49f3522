"""Date resolution benchmark (`rag bench dates`): ``rag.dates`` on the table in
``rag/data/dates/dates.jsonl``: relative dates in real sentences of KorQuAD 1.0 dev paragraphs
(articles 0–69: dev, 70–139: test) and of the seed articles (dev), each with the date a person
resolved by reading the paragraph ("" where the words name no particular date). A row is right
when the resolver, reading the whole article, gives that date at that place, or, for "", none.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..articles import read_article
from ..dates import resolve
from ..eval.korquad import KORQUAD_FILE

TABLE = Path(__file__).resolve().parents[1] / "data" / "dates" / "dates.jsonl"
SEEDS = Path(__file__).resolve().parents[1] / "data" / "seeds"


def _text(source: str, data: list) -> tuple[str, int]:
    """The whole article a row's sentence is in, as ingest indexes it (a KorQuAD article's
    paragraphs one per line), and where the row's paragraph starts in it."""
    kind, _, where = source.partition(":")
    if kind == "seed":
        return read_article(SEEDS / where).text, 0
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
        split["rows"] += 1
        if got == row["date"]:
            split["right"] += 1
        else:
            split["wrong"].append({**row, "got": got})
    for split in out.values():
        split["accuracy"] = round(split["right"] / split["rows"], 3)
    return out


def format_table(result: dict) -> str:
    lines = ["split  rows  right  accuracy"]
    for name, r in result.items():
        lines.append(f"{name:<6} {r['rows']:>4}  {r['right']:>5}  {r['accuracy']:.3f}")
    for name, r in result.items():
        for w in r["wrong"]:
            lines.append(
                f"  {name} {w['source']} {w['text']!r}: expected {w['date'] or 'none'}, "
                f"got {w['got'] or 'none'}"
            )
    return "\n".join(lines)
