"""The evaluation harness: suites of questions run through ``answering.ask``, scored, reported.

    rag eval [SUITE ...] [--report DIR] [--backend NAME]

A suite is ``suites/NAME.toml`` (package data): its questions (JSONL: question, answerable, expected
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
- ``short_shown``: answerable questions answered with a short answer first (a date, a number, a
  name); ``short_exact``: those whose short answer is an expected answer, by KorQuAD's exact
  match (an expected fact inside a longer span does not count).
- latency p50/p95 per stage (ms).

Reports: a terminal table, ``report.json``, ``summary.md``, ``junit.xml`` (one test case
a question) and ``report.html`` (bars per metric, latency distribution; no network).
The exit code is 1 when any threshold is missed.

Modules: ``suites`` (what a suite is, loading one), ``korquad`` (the KorQuAD 1.0 dev set and its
dev/test split), ``metrics`` (per-question scores and suite metrics), ``harness`` (running a
suite), ``reports`` (table, JSON, Markdown, JUnit, HTML), ``meta`` (the checker checked).
"""
