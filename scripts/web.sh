#!/usr/bin/env bash
# Install what is missing, then start the web chat on http://127.0.0.1:8000 (ingests the seeds first if needed).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
exec .venv/bin/rag web "$@"
