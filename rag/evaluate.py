"""The evaluation harness: suites of questions run through ``pipeline.ask``, scored, reported.

    rag eval [SUITE ...] [--report DIR] [--backend NAME]

A suite is ``evals/NAME.toml``: its questions (JSONL: question, answerable, expected
alternatives, sources, passage) or a KorQuAD sample, and thresholds. Metrics (each a
share from 0 to 1 unless it says otherwise):

- ``hit_at_1/5/k``: a supporting passage (one containing the question's ``passage`` span,
  or from its gold source) among the top 1/5/k retrieved; ``mrr``; ``ndcg_at_k`` (binary).
- ``answer_correct``: answerable questions whose answer (or the text it cites) holds an
  expected fact, after normalising spaces, thousands separators and trailing particles,
  and that cite an article the question lists under ``sources`` (when it lists any).
- ``citation_recall`` (ALCE): answer sentences supported by the passages they cite;
  ``citation_precision``: citations that support their sentence on their own.
- ``faithfulness``: answer sentences supported by the retrieved passages at all.
- ``abstention_precision`` / ``abstention_recall`` on unanswerable questions;
  ``wrongful_abstention``: answerable questions that abstained.
- latency p50/p95 per stage (ms).

Reports: a terminal table, ``report.json``, ``summary.md``, ``junit.xml`` (one test case
a question) and ``report.html`` (bars per metric, latency distribution; no network).
The exit code is 1 when any threshold is missed.
"""

from __future__ import annotations

import html
import json
import random
import re
import tempfile
import time
import tomllib
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field, replace
from pathlib import Path

from . import cite
from .benchmarks import latency
from .errors import BadInput, RagError
from .keyword import analyze
from .settings import Settings

EVALS_DIR = Path(__file__).resolve().parents[1] / "evals"
LOWER_IS_BETTER = {"wrongful_abstention"}
PARTICLES = re.compile(r"(은|는|이|가|을|를|의|에|에서|으로|로|와|과|도|만)$")


@dataclass
class Suite:
    name: str
    questions: list[dict]
    corpus: Path
    thresholds: dict[str, float]
    description: str = ""


@dataclass
class QuestionResult:
    id: str
    question: str
    answerable: bool
    answer: str
    abstained: bool
    correct: bool | None
    retrieved_rank: int | None
    sentences: int
    supported_cited: int
    supported_any: int
    citations: int
    citations_needed: int
    timings: dict
    problems: list[str] = field(default_factory=list)
    judged_correct: bool | None = None  # the optional LLM judge's grade


def normalise(text: str) -> str:
    """For fact matching: no spaces, no thousands separators, lower case."""
    text = re.sub(r"(?<=\d),(?=\d{3})", "", text.lower())
    return re.sub(r"\s+", "", text)


def fact_present(expected: list[str], text: str) -> bool:
    """Does any expected alternative occur in the text (particles on the fact allowed to differ)?"""
    flat = normalise(text)
    return any(normalise(e) in flat or normalise(PARTICLES.sub("", e.strip())) in flat for e in expected if e.strip())


def load_suite(name_or_path: str, full: bool = False) -> Suite:
    path = Path(name_or_path)
    if not path.suffix:
        path = EVALS_DIR / f"{name_or_path}.toml"
    if not path.is_file():
        known = ", ".join(p.stem for p in EVALS_DIR.glob("*.toml"))
        raise BadInput(f"no evaluation suite {name_or_path!r}", f"use one of: {known}, or a path to a suite .toml")
    spec = tomllib.loads(path.read_text(encoding="utf-8"))
    thresholds = spec.get("thresholds", {})
    if "korquad" in spec:
        return _korquad_suite(spec, path.parent, thresholds, full)
    rows = [json.loads(line) for line in (path.parent / spec["questions"]).read_text(encoding="utf-8").splitlines() if line.strip()]
    return Suite(spec.get("name", path.stem), rows, (path.parent / spec["corpus"]).resolve(), thresholds,
                 spec.get("description", ""))


def _korquad_suite(spec: dict, base: Path, thresholds: dict, full: bool) -> Suite:
    from .benchmarks import korquad_questions, write_corpus

    source = (base / spec["korquad"]).resolve()
    if not source.is_file():
        raise BadInput(f"KorQuAD file not found at {source}", "put ../shared/benchmarks/korquad/ beside the checkout")
    files, questions, _ = korquad_questions(source, None if full else spec.get("articles", 4))
    if not full and spec.get("questions_sample"):
        questions = random.Random(spec.get("seed", 0)).sample(questions, min(spec["questions_sample"], len(questions)))
    corpus = Path(tempfile.mkdtemp(prefix="rag-eval-korquad-")) / "corpus"
    write_corpus(files, corpus)
    rows = [{"id": f"kq{i:04d}", "question": q["question"], "answerable": True, "expected": [q["answer"]],
             "sources": [q["gold"]], "passage": ""} for i, q in enumerate(questions)]
    return Suite(spec.get("name", "korquad"), rows, corpus, thresholds, spec.get("description", ""))


def _supports_alone(sentence: str, n: int, passages: list[str]) -> bool:
    """Citation precision: does passage n on its own support the sentence?"""
    claim = cite.MARKER.sub("", sentence)
    return cite.check_sentence(f"{claim} [1]", [passages[n - 1]]).supported


def score_question(row: dict, answer) -> QuestionResult:
    """All per-question measurements for one answered question."""
    texts = [p.text for p in answer.passages]
    span = row.get("passage", "").split("\n")[0][:30]

    def supporting(p) -> bool:
        return (span and span in p.text) or (not span and p.source in row.get("sources", []))

    rank = next((i + 1 for i, p in enumerate(sorted(answer.passages, key=lambda p: p.rank)) if supporting(p)), None)
    body = answer.answer.removesuffix(answer.date_note).rstrip()
    checks = [] if answer.abstained else cite.check(body, texts)
    every_passage = "".join(f"[{i}]" for i in range(1, len(texts) + 1))
    any_support = sum(cite.check_sentence(f"{cite.strip_markers(c.text)} {every_passage}", texts).supported for c in checks)
    needed = sum(_supports_alone(c.text, n, texts) for c in checks for n in c.cited if 1 <= n <= len(texts))
    n_citations = sum(len(c.cited) for c in checks)
    evidence = answer.answer + " " + " ".join(c.text for c in answer.citations)
    sources = row.get("sources", [])
    cites_source = not sources or any(c.source in sources for c in answer.citations)
    correct = (fact_present(row.get("expected", []), evidence) and cites_source and not answer.abstained
               if row["answerable"] else None)
    problems = []
    if row["answerable"] and answer.abstained:
        problems.append("abstained on an answerable question")
    elif row["answerable"] and not correct:
        problems.append(f"expected one of {row.get('expected')}")
    if not row["answerable"] and not answer.abstained:
        problems.append("answered a question the articles do not answer")
    problems += [f"unsupported sentence ({c.reason}): {c.text[:80]}" for c in checks if not c.supported]
    return QuestionResult(row.get("id", ""), row["question"], row["answerable"], answer.answer, answer.abstained, correct,
                          rank, len(checks), sum(c.supported for c in checks), any_support, n_citations, needed,
                          {k: v for k, v in answer.timings.items() if k.endswith("_ms")}, problems)


def _share(num: float, den: float) -> float | None:
    return round(num / den, 4) if den else None


def aggregate(results: list[QuestionResult], k: int) -> dict:
    """Suite-level metrics from per-question results."""
    import math

    answerable = [r for r in results if r.answerable]
    unanswerable = [r for r in results if not r.answerable]
    ranks = [r.retrieved_rank for r in answerable]
    metrics = {
        "questions": len(results),
        "hit_at_1": _share(sum(1 for x in ranks if x and x <= 1), len(ranks)),
        "hit_at_5": _share(sum(1 for x in ranks if x and x <= 5), len(ranks)),
        f"hit_at_{k}": _share(sum(1 for x in ranks if x and x <= k), len(ranks)),
        "mrr": _share(sum(1 / x for x in ranks if x), len(ranks)),
        f"ndcg_at_{k}": _share(sum(1 / math.log2(x + 1) for x in ranks if x and x <= k), len(ranks)),
        "answer_correct": _share(sum(bool(r.correct) for r in answerable), len(answerable)),
        "citation_recall": _share(sum(r.supported_cited for r in results), sum(r.sentences for r in results)),
        "citation_precision": _share(sum(r.citations_needed for r in results), sum(r.citations for r in results)),
        "faithfulness": _share(sum(r.supported_any for r in results), sum(r.sentences for r in results)),
        "abstention_precision": _share(sum(r.abstained for r in unanswerable), sum(r.abstained for r in results)),
        "abstention_recall": _share(sum(r.abstained for r in unanswerable), len(unanswerable)),
        "wrongful_abstention": _share(sum(r.abstained for r in answerable), len(answerable)),
    }
    for stage in sorted({s for r in results for s in r.timings}):
        for name, value in latency([r.timings[stage] for r in results if stage in r.timings]).items():
            metrics[f"{stage[:-3]}_{name}"] = value
    return metrics


def misses(metrics: dict, thresholds: dict) -> list[str]:
    """Thresholds not met, as readable lines."""
    out = []
    for name, limit in thresholds.items():
        value = metrics.get(name)
        if value is None:
            continue
        bad = value > limit if name in LOWER_IS_BETTER else value < limit
        if bad:
            out.append(f"{name} = {value:.3f} ({'above the maximum' if name in LOWER_IS_BETTER else 'below the minimum'} {limit})")
    return out


def judge(row: dict, answer_text: str, settings: Settings) -> bool | None:
    """Optional LLM-graded correctness (prompts/judge.txt); None when the judge is unreachable."""
    from langchain_core.messages import HumanMessage

    from .llm import chat_model
    from .prompts import render

    prompt = render("judge.txt", question=row["question"], expected=" | ".join(row.get("expected", [])), answer=answer_text)
    try:
        reply = chat_model(settings).invoke([HumanMessage(prompt)]).content
    except Exception:
        return None
    return str(reply).strip().startswith("1")


def run_suite(suite: Suite, settings: Settings, log=print, judge_llm: bool = False) -> dict:
    """Ingest the suite's corpus into a private index, ask every question, score.

    With ``judge_llm`` (and an LLM backend configured) an LLM also grades each answerable
    answer; it adds ``llm_judge_correct`` and nothing depends on it."""
    from .pipeline import ask, ingest

    index_dir = Path(tempfile.mkdtemp(prefix=f"rag-eval-{suite.name}-")) / "index"
    collection = f"{settings.store_collection}_eval_{re.sub(r'[^a-z0-9_]', '_', suite.name.lower())}"[:63]
    settings = replace(settings, index_dir=index_dir, store_collection=collection)  # a server store: its own schema
    ingest([suite.corpus], settings, rebuild=settings.store != "faiss", quiet=True)
    results = []
    started = time.time()
    for row in suite.questions:
        try:
            answer = ask(row["question"], settings)
        except RagError as e:
            results.append(QuestionResult(row.get("id", ""), row["question"], row["answerable"], "", True, False, None,
                                          0, 0, 0, 0, 0, {}, [f"error: {e.message}"]))
            continue
        results.append(score_question(row, answer))
        if judge_llm and row["answerable"] and settings.backend != "extractive":
            results[-1].judged_correct = judge(row, answer.answer, settings)
    metrics = aggregate(results, settings.top_k)
    graded = [r.judged_correct for r in results if r.judged_correct is not None]
    if graded:
        metrics["llm_judge_correct"] = _share(sum(graded), len(graded))
    failed = misses(metrics, suite.thresholds)
    log(f"{suite.name}: {len(results)} questions in {time.time() - started:.1f} s")
    return {"suite": suite.name, "description": suite.description, "metrics": metrics, "thresholds": suite.thresholds,
            "missed": failed, "passed": not failed, "questions": [r.__dict__ for r in results]}


def table(reports: list[dict]) -> str:
    names = [k for k in reports[0]["metrics"] if k != "questions"] if reports else []
    lines = [f"{'metric':<24}" + "".join(f"{r['suite']:>14}" for r in reports)]
    for name in names:
        row = f"{name:<24}"
        for r in reports:
            v = r["metrics"].get(name)
            mark = "" if name not in r["thresholds"] else (" ✗" if any(m.startswith(name + " ") for m in r["missed"]) else " ✓")
            row += f"{('-' if v is None else v):>12}{mark:>2}"
        lines.append(row)
    return "\n".join(lines)


def write_reports(reports: list[dict], folder: Path) -> list[Path]:
    """report.json, summary.md, junit.xml and report.html under ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "report.json").write_text(json.dumps(reports, ensure_ascii=False, indent=1), encoding="utf-8")
    md = ["# Evaluation summary", ""]
    for r in reports:
        md += [f"## {r['suite']} — {'passed' if r['passed'] else 'FAILED'}", "", r["description"], "",
               "| metric | value | threshold |", "|---|---|---|"]
        md += [f"| {k} | {v} | {r['thresholds'].get(k, '')} |" for k, v in r["metrics"].items()]
        failing = [q for q in r["questions"] if q["problems"]]
        if failing:
            md += ["", "Questions with problems:", ""] + [f"- `{q['id']}` {q['question']}: {'; '.join(q['problems'])}" for q in failing]
        md.append("")
    (folder / "summary.md").write_text("\n".join(md), encoding="utf-8")
    suites = ET.Element("testsuites")
    for r in reports:
        s = ET.SubElement(suites, "testsuite", name=r["suite"], tests=str(len(r["questions"])),
                          failures=str(sum(bool(q["problems"]) for q in r["questions"])))
        for q in r["questions"]:
            case = ET.SubElement(s, "testcase", classname=r["suite"], name=f"{q['id']} {q['question']}")
            if q["problems"]:
                ET.SubElement(case, "failure", message="; ".join(q["problems"])[:500]).text = f"answer: {q['answer']}"
        for m in r["missed"]:
            case = ET.SubElement(s, "testcase", classname=r["suite"], name=f"threshold {m.split(' ')[0]}")
            ET.SubElement(case, "failure", message=m)
    ET.ElementTree(suites).write(folder / "junit.xml", encoding="utf-8", xml_declaration=True)
    (folder / "report.html").write_text(_html(reports), encoding="utf-8")
    return [folder / n for n in ("report.json", "summary.md", "junit.xml", "report.html")]


def _bars(metrics: dict) -> str:
    shares = [(k, v) for k, v in metrics.items() if isinstance(v, float) and not k.endswith("_ms") and v <= 1]
    rows = []
    for i, (name, value) in enumerate(shares):
        y = 10 + i * 24
        rows.append(f'<text x="0" y="{y + 13}" font-size="12">{html.escape(name)}</text>'
                    f'<rect x="170" y="{y}" width="{value * 300:.0f}" height="16" fill="#3b82f6"/>'
                    f'<text x="{176 + value * 300:.0f}" y="{y + 13}" font-size="12">{value:.3f}</text>')
    return f'<svg width="560" height="{20 + 24 * len(shares)}" role="img">{"".join(rows)}</svg>'


def _latency_svg(questions: list[dict]) -> str:
    values = sorted(sum(q["timings"].values()) for q in questions if q["timings"])
    if not values:
        return ""
    top = max(values) or 1
    bars = "".join(f'<rect x="{i * 500 / len(values):.1f}" y="{120 - v / top * 110:.1f}" width="{max(500 / len(values) - 1, 1):.1f}" '
                   f'height="{v / top * 110:.1f}" fill="#10b981"/>' for i, v in enumerate(values))
    return f'<svg width="520" height="130" role="img">{bars}<text x="0" y="10" font-size="11">max {top:.0f} ms</text></svg>'


def _html(reports: list[dict]) -> str:
    parts = ["<!doctype html><meta charset='utf-8'><title>rag eval report</title>",
             "<style>body{font-family:sans-serif;max-width:900px;margin:2em auto}td,th{padding:2px 8px}</style>",
             "<h1>Evaluation report</h1>"]
    for r in reports:
        parts.append(f"<h2>{html.escape(r['suite'])}: {'passed' if r['passed'] else 'FAILED'}</h2>")
        parts.append(f"<p>{html.escape(r['description'])}</p><h3>Metrics</h3>{_bars(r['metrics'])}")
        parts.append(f"<h3>Latency per question (ms, sorted)</h3>{_latency_svg(r['questions'])}")
        if r["missed"]:
            parts.append("<h3>Missed thresholds</h3><ul>" + "".join(f"<li>{html.escape(m)}</li>" for m in r["missed"]) + "</ul>")
        bad = [q for q in r["questions"] if q["problems"]]
        if bad:
            parts.append("<h3>Questions with problems</h3><table><tr><th>id</th><th>question</th><th>problem</th><th>answer</th></tr>")
            parts += [f"<tr><td>{html.escape(q['id'])}</td><td>{html.escape(q['question'])}</td>"
                      f"<td>{html.escape('; '.join(q['problems']))}</td><td>{html.escape(q['answer'][:200])}</td></tr>" for q in bad]
            parts.append("</table>")
    return "\n".join(parts)


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
    from .chunking import split_sentences
    from .ingest import read_article

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
