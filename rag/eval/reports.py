"""Reports of evaluation runs: a terminal table, report.json, summary.md, junit.xml and an
offline report.html (bars per metric, latency distribution)."""

from __future__ import annotations

import html
import json
import xml.etree.ElementTree as ET
from pathlib import Path


def table(reports: list[dict]) -> str:
    names = [k for k in reports[0]["metrics"] if k != "questions"] if reports else []
    lines = [f"{'metric':<24}" + "".join(f"{r['suite']:>14}" for r in reports)]
    for name in names:
        row = f"{name:<24}"
        for r in reports:
            v = r["metrics"].get(name)
            mark = (
                ""
                if name not in r["thresholds"]
                else (" ✗" if any(m.startswith(name + " ") for m in r["missed"]) else " ✓")
            )
            row += f"{('-' if v is None else v):>12}{mark:>2}"
        lines.append(row)
    return "\n".join(lines)


def write_reports(reports: list[dict], folder: Path) -> list[Path]:
    """report.json, summary.md, junit.xml and report.html under ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "report.json").write_text(
        json.dumps(reports, ensure_ascii=False, indent=1), encoding="utf-8"
    )
    md = ["# Evaluation summary", ""]
    for r in reports:
        md += [
            f"## {r['suite']} — {'passed' if r['passed'] else 'FAILED'}",
            "",
            r["description"],
            "",
            "| metric | value | threshold |",
            "|---|---|---|",
        ]
        md += [f"| {k} | {v} | {r['thresholds'].get(k, '')} |" for k, v in r["metrics"].items()]
        failing = [q for q in r["questions"] if q["problems"]]
        if failing:
            md += ["", "Questions with problems:", ""] + [
                f"- `{q['id']}` {q['question']}: {'; '.join(q['problems'])}" for q in failing
            ]
        md.append("")
    (folder / "summary.md").write_text("\n".join(md), encoding="utf-8")
    suites = ET.Element("testsuites")
    for r in reports:
        s = ET.SubElement(
            suites,
            "testsuite",
            name=r["suite"],
            tests=str(len(r["questions"])),
            failures=str(sum(bool(q["problems"]) for q in r["questions"])),
        )
        for q in r["questions"]:
            case = ET.SubElement(
                s, "testcase", classname=r["suite"], name=f"{q['id']} {q['question']}"
            )
            if q["problems"]:
                ET.SubElement(
                    case, "failure", message="; ".join(q["problems"])[:500]
                ).text = f"answer: {q['answer']}"
        for m in r["missed"]:
            case = ET.SubElement(
                s, "testcase", classname=r["suite"], name=f"threshold {m.split(' ')[0]}"
            )
            ET.SubElement(case, "failure", message=m)
    ET.ElementTree(suites).write(folder / "junit.xml", encoding="utf-8", xml_declaration=True)
    (folder / "report.html").write_text(_html(reports), encoding="utf-8")
    return [folder / n for n in ("report.json", "summary.md", "junit.xml", "report.html")]


def _bars(metrics: dict) -> str:
    shares = [
        (k, v)
        for k, v in metrics.items()
        if isinstance(v, float) and not k.endswith("_ms") and v <= 1
    ]
    rows = []
    for i, (name, value) in enumerate(shares):
        y = 10 + i * 24
        rows.append(
            f'<text x="0" y="{y + 13}" font-size="12">{html.escape(name)}</text>'
            f'<rect x="170" y="{y}" width="{value * 300:.0f}" height="16" fill="#3b82f6"/>'
            f'<text x="{176 + value * 300:.0f}" y="{y + 13}" font-size="12">{value:.3f}</text>'
        )
    return f'<svg width="560" height="{20 + 24 * len(shares)}" role="img">{"".join(rows)}</svg>'


def _latency_svg(questions: list[dict]) -> str:
    values = sorted(sum(q["timings"].values()) for q in questions if q["timings"])
    if not values:
        return ""
    top = max(values) or 1
    bars = "".join(
        f'<rect x="{i * 500 / len(values):.1f}" y="{120 - v / top * 110:.1f}" '
        f'width="{max(500 / len(values) - 1, 1):.1f}" '
        f'height="{v / top * 110:.1f}" fill="#10b981"/>'
        for i, v in enumerate(values)
    )
    label = f'<text x="0" y="10" font-size="11">max {top:.0f} ms</text>'
    return f'<svg width="520" height="130" role="img">{bars}{label}</svg>'


def _html(reports: list[dict]) -> str:
    parts = [
        "<!doctype html><meta charset='utf-8'><title>rag eval report</title>",
        "<style>body{font-family:sans-serif;max-width:900px;margin:2em auto}td,th{padding:2px "
        "8px}</style>",
        "<h1>Evaluation report</h1>",
    ]
    for r in reports:
        parts.append(f"<h2>{html.escape(r['suite'])}: {'passed' if r['passed'] else 'FAILED'}</h2>")
        parts.append(f"<p>{html.escape(r['description'])}</p><h3>Metrics</h3>{_bars(r['metrics'])}")
        parts.append(f"<h3>Latency per question (ms, sorted)</h3>{_latency_svg(r['questions'])}")
        if r["missed"]:
            parts.append(
                "<h3>Missed thresholds</h3><ul>"
                + "".join(f"<li>{html.escape(m)}</li>" for m in r["missed"])
                + "</ul>"
            )
        bad = [q for q in r["questions"] if q["problems"]]
        if bad:
            parts.append(
                "<h3>Questions with "
                "problems</h3><table><tr><th>id</th><th>question</th><th>problem</th><th>answer</th></tr>"
            )
            parts += [
                f"<tr><td>{html.escape(q['id'])}</td><td>{html.escape(q['question'])}</td>"
                f"<td>{html.escape('; '.join(q['problems']))}</td>"
                f"<td>{html.escape(q['answer'][:200])}</td></tr>"
                for q in bad
            ]
            parts.append("</table>")
    return "\n".join(parts)
