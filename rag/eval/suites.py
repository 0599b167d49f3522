"""Evaluation suites: ``suites/NAME.toml`` beside this module (package data), each naming its
questions (JSONL: question, answerable, expected alternatives, sources, passage) or a KorQuAD
sample, its corpus, and its thresholds."""

from __future__ import annotations

import json
import random
import tomllib
from dataclasses import dataclass
from pathlib import Path

from ..errors import BadInput
from ..scratch import scratch_dir
from .korquad import near_miss, write_corpus

SUITES_DIR = Path(__file__).with_name("suites")


@dataclass
class Suite:
    name: str
    questions: list[dict]
    corpus: Path
    thresholds: dict[str, float]
    description: str = ""


def load_suite(name_or_path: str, full: bool = False) -> Suite:
    path = Path(name_or_path)
    if not path.suffix:
        path = SUITES_DIR / f"{name_or_path}.toml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in SUITES_DIR.glob("*.toml")))
        raise BadInput(
            f"no evaluation suite {name_or_path!r}",
            f"use one of: {known}, or a path to a suite .toml",
        )
    spec = tomllib.loads(path.read_text(encoding="utf-8"))
    thresholds = spec.get("thresholds", {})
    if "korquad" in spec:
        return _korquad_suite(spec, path.parent, thresholds, full)
    rows = [
        json.loads(line)
        for line in (path.parent / spec["questions"]).read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    return Suite(
        spec.get("name", path.stem),
        rows,
        (path.parent / spec["corpus"]).resolve(),
        thresholds,
        spec.get("description", ""),
    )


def _korquad_suite(spec: dict, base: Path, thresholds: dict, full: bool) -> Suite:
    """A KorQuAD 1.0 dev sample: ``split`` 'dev' or 'test', its first ``articles`` (all with
    ``full``), ``leave_out`` of their paragraphs left out of the corpus (those questions are
    unanswerable), ``questions_sample`` questions drawn with ``seed``."""
    source = (base / spec["korquad"]).resolve()
    if not source.is_file():
        raise BadInput(
            f"KorQuAD file not found at {source}",
            "reinstall rag-news: the KorQuAD dev set ships in rag/data/korquad/",
        )
    articles = None if full else spec.get("articles", 4)
    selection = near_miss(
        spec.get("split", "test"), spec.get("leave_out", 0.0), spec.get("seed", 0), articles, source
    )
    questions = selection.questions
    if not full and spec.get("questions_sample"):
        count = min(spec["questions_sample"], len(questions))
        questions = random.Random(spec.get("seed", 0)).sample(questions, count)
    corpus = scratch_dir("rag-eval-korquad-") / "corpus"
    write_corpus(selection.files, corpus)
    rows = [
        {
            "id": f"kq{i:04d}",
            "question": q["question"],
            "answerable": q["answerable"],
            "expected": [q["answer"]] if q["answerable"] else [],
            "sources": [q["gold"]] if q["answerable"] else [],
            "passage": "",
        }
        for i, q in enumerate(questions)
    ]
    return Suite(spec.get("name", "korquad"), rows, corpus, thresholds, spec.get("description", ""))
