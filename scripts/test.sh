#!/usr/bin/env bash
# Install what is missing (test extras and Debian's chromium included), check lint and format,
# run the test suite, then the CI evaluation suites (seeds + KorQuAD sample) and the benchmark samples.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
export RAG_CACHE_DIR="${RAG_CACHE_DIR:-$PWD/.cache/models}"
echo "Lint and format (ruff, configured in pyproject.toml):"
.venv/bin/ruff check rag tests scripts
.venv/bin/ruff format --check rag tests scripts
echo "Model cache (a one-off conversion and int8 calibration on a fresh machine):"
.venv/bin/python -c "from rag.embeddings import get_embedder; from rag.settings import load_settings; e = get_embedder(load_settings()); e.embed_passages(['준비']); e.embed_query('준비')"
# The reader's refit (minutes on one core) runs beside the rest of the suite: two cores, two runs.
scratch=$(mktemp -d)  # the refit run's log and pytest folders, removed however the run ends
trap 'rm -rf "$scratch"' EXIT
refit_log="$scratch/refit.log"
.venv/bin/python -m pytest -q -m refit --basetemp "$scratch/pytest" tests/integration/test_reader.py >"$refit_log" 2>&1 &
refit=$!
.venv/bin/python -m pytest -q -m "not refit" "$@"
echo "The reader's refit check (run beside the suite):"
if ! wait "$refit"; then cat "$refit_log"; echo "FAILED: rag fit does not reproduce the shipped model.json"; exit 1; fi
tail -n 1 "$refit_log"
echo "Evaluation suites, dev and test (fail the build on a missed threshold):"
.venv/bin/rag eval --meta --report reports/eval  # dev and test suites side by side; gates on both
echo "Answer benchmark sample (reader vs the legacy composer, 3 KorQuAD articles per split; full run: rag bench answers):"
.venv/bin/rag bench answers --articles 3 --out reports/answers-small.json
echo "Article extraction benchmark (ours vs trafilatura alone, dev and test pages, ~10 s):"
.venv/bin/rag bench extraction --out reports/extraction.json
echo "Relative dates resolved (137 Korean and English sentences a person resolved, dev and test):"
.venv/bin/rag bench dates --out reports/dates.json
echo "Performance sample (figures only, no thresholds; full run: rag bench perf):"
.venv/bin/rag bench perf --small --out reports/perf-small.json
echo "Server stores sample (FAISS vs PostgreSQL vs Milvus on 2 KorQuAD articles; full run: rag bench stores):"
.venv/bin/rag bench stores --articles 2 --questions 40 --out reports/stores-small.json
echo "Archive ingest sample (300 articles in batches of 100, SIGKILLed in the second and resumed; full run: rag bench archive):"
RAG_INGEST_BATCH=100 .venv/bin/rag bench archive --articles 300 --out reports/archive-small.json
