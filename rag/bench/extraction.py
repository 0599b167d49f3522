"""Article extraction benchmark (`rag bench extraction`): the product's reading of a web page
against trafilatura alone, in one run, on the Scrapinghub/Zyte benchmark's pages in
``rag/data/article-extraction`` (their README has the source and the licence).

The pages are split by id: the first half (sorted) is development data, the settings were chosen
on it; the second half is test data. The metric is the benchmark's own: 4-token shingles of the
true and the extracted body, true/false positives and false negatives per page normalised by their
sum, precision and recall averaged over pages, F1 from the two. Dates are checked where a page's
URL carries one (``/2019/11/19/``): the share of those pages whose extracted date is that day.
"""

from __future__ import annotations

import gzip
import json
import re
import statistics
import time
from collections import Counter
from pathlib import Path

from ..articles import extract
from ..errors import BadInput

DATA = Path(__file__).resolve().parents[1] / "data" / "article-extraction"
TOKEN = re.compile(r"\w+")
URL_DATE = re.compile(r"/(20\d\d)/(\d\d)/(\d\d)/")


def _shingles(text: str, n: int = 4) -> Counter:
    tokens = TOKEN.findall(text or "")
    shingles = (tuple(tokens[i : i + n]) for i in range(max(1, len(tokens) - n + 1)))
    return Counter(s for s in shingles if s)


def page_counts(true: str, pred: str) -> tuple[float, float, float]:
    """True positives, false positives and false negatives of one page's shingles, normalised by
    their sum (so a long page weighs no more than a short one)."""
    t, p = _shingles(true), _shingles(pred)
    tp = sum((t & p).values())
    fp, fn = sum((p - t).values()), sum((t - p).values())
    total = tp + fp + fn
    return (tp / total, fp / total, fn / total) if total else (0.0, 0.0, 0.0)


def scores(counts: list[tuple[float, float, float]]) -> dict[str, float]:
    """The benchmark's precision, recall (averaged over pages) and F1 of the two."""

    def ratio(tp, other, fp, fn):
        if fp == fn == 0:
            return 1.0
        return 0.0 if tp == other == 0 else tp / (tp + other)

    precision = statistics.mean(ratio(tp, fp, fp, fn) for tp, fp, fn in counts if tp + fp > 0)
    recall = statistics.mean(ratio(tp, fn, fp, fn) for tp, fp, fn in counts if tp + fn > 0)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"f1": round(f1, 4), "precision": round(precision, 4), "recall": round(recall, 4)}


def _ours(html: str) -> tuple[str, str, str]:
    """Body, title and date as ingest reads the page (an empty body where it finds none)."""
    try:
        e = extract(html.encode("utf-8"), Path("page.html"))
    except BadInput:
        return "", "", ""
    return e.text, e.title, e.published


def _trafilatura(html: str) -> str:
    """trafilatura as the benchmark runs it."""
    import trafilatura

    return trafilatura.extract(html, include_comments=False) or ""


def pages(data: Path = DATA) -> dict[str, list[tuple[str, str, str, str]]]:
    """(id, url, true body, html) per split, "dev" and "test"."""
    truth_file = data / "ground-truth.json"
    if not truth_file.is_file():
        raise BadInput(f"the article-extraction benchmark is not at {data}", "restore rag/data/")
    truth = json.loads(truth_file.read_text(encoding="utf-8"))
    ids = sorted(truth)
    rows = []
    for page_id in ids:
        with gzip.open(data / "html" / f"{page_id}.html.gz", "rt", encoding="utf-8") as f:
            rows.append((page_id, truth[page_id]["url"], truth[page_id]["articleBody"], f.read()))
    half = len(rows) // 2
    return {"dev": rows[:half], "test": rows[half:]}


def _split(rows) -> dict:
    ours, alone, dated, right_date, titled = [], [], 0, 0, 0
    seconds = {"ours": 0.0, "trafilatura": 0.0}
    for _, url, true, html in rows:
        t = time.perf_counter()
        text, title, published = _ours(html)
        seconds["ours"] += time.perf_counter() - t
        t = time.perf_counter()
        baseline = _trafilatura(html)
        seconds["trafilatura"] += time.perf_counter() - t
        ours.append(page_counts(true, text))
        alone.append(page_counts(true, baseline))
        titled += bool(title)
        if m := URL_DATE.search(url):
            dated += 1
            right_date += published == "-".join(m.groups())
    return {
        "pages": len(rows),
        "ours": scores(ours),
        "trafilatura": scores(alone),
        "titled": round(titled / len(rows), 3),
        "url_dated_pages": dated,
        "date_right": round(right_date / dated, 3) if dated else None,
        "ms_per_page": {k: round(1000 * v / len(rows), 1) for k, v in seconds.items()},
    }


def run(limit: int | None = None) -> dict:
    """Both extractors on every page of each split (``limit``: the first N of each)."""
    return {split: _split(rows[:limit]) for split, rows in pages().items()}


def format_table(result: dict) -> str:
    lines = [
        "split  pages  extractor     F1      precision  recall  title  date(URL)  ms/page",
    ]
    for split, r in result.items():
        for name in ("ours", "trafilatura"):
            s = r[name]
            extra = (
                f"{r['titled']:.3f}  {r['date_right']} of {r['url_dated_pages']}"
                if name == "ours"
                else "                  "
            )
            lines.append(
                f"{split:<6} {r['pages']:>5}  {name:<12} {s['f1']:.4f}  {s['precision']:.4f}"
                f"     {s['recall']:.4f}  {extra}  {r['ms_per_page'][name]}"
            )
    return "\n".join(lines)
