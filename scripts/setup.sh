#!/usr/bin/env bash
# Set up what the project needs in .venv (idempotent; reinstalls when pyproject.toml changes).
# Usage: bash scripts/setup.sh [--test]   --test: also the test extras (llama.cpp's server, which
# builds from source, real PostgreSQL and Milvus servers, Playwright, ruff) and Debian's chromium
# with CJK fonts for the browser tests. Without it: only what the chat and the CLI need.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
want="."
[ "${1:-}" = "--test" ] && want=".[test]"
if [ ! -x .venv/bin/python ]; then
  echo "Creating .venv …"
  "$PY" -m venv .venv
fi
stamp=".venv/.installed-$(sha1sum pyproject.toml | cut -c1-12)-$( [ "$want" = . ] && echo main || echo test)"
test_stamp=".venv/.installed-$(sha1sum pyproject.toml | cut -c1-12)-test"
if [ ! -f "$stamp" ] && [ ! -f "$test_stamp" ]; then
  echo "Installing dependencies for $want (a few minutes the first time) …"
  # torch first and pinned: the local CPU wheel, not the registry's CUDA build.
  .venv/bin/pip install --disable-pip-version-check -q torch==2.13.0
  # llama-cpp-python (tests: a real LLM server) builds from source; the native build can emit
  # instructions the CI CPUs lack ("Illegal instruction"), so the CPU features are named.
  CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF" \
    .venv/bin/pip install --disable-pip-version-check -q -e "$want"
  find .venv -maxdepth 1 -name '.installed-*' ! -name "$(basename "$test_stamp")" -delete
  touch "$stamp"
fi
if [ "$want" != "." ] && ! command -v chromium >/dev/null 2>&1; then
  echo "Installing Debian's chromium and CJK fonts for browser tests …"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium fonts-noto-cjk >/dev/null
fi
