"""What the tests share: paths of the shipped data, the real CLI as a subprocess, settings for a
temporary index, and ``need`` (skip on a developer's machine, fail on CI)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "rag" / "data"
SEEDS = DATA / "seeds"
KORQUAD = DATA / "korquad" / "KorQuAD_v1.0_dev.json"
EXTRACTION = DATA / "article-extraction"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def need(available: bool, what: str) -> None:
    """A test that needs a browser, a server or a model: skipped on a developer's machine that
    lacks it, failed under CI (``CI=true``), where everything must be installed."""
    if available:
        return
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"{what} is missing on CI: scripts/test.sh installs it", pytrace=False)
    pytest.skip(f"{what} is not installed (bash scripts/test.sh installs it)")


def need_chromium() -> None:
    need(os.path.exists(CHROMIUM), "Debian's chromium")


def make_settings(index_dir, **extra):
    from rag.settings import load_settings

    return load_settings({"index_dir": str(index_dir), **extra})


def korquad():
    """The KorQuAD 1.0 dev set the repository ships (``rag/data/korquad``)."""
    return json.loads(KORQUAD.read_text(encoding="utf-8"))


def run_cli(*args, cwd=ROOT, env=None, input=None, timeout=600):
    """The real `rag` command as a subprocess."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "rag.cli", *args],
        cwd=cwd,
        env=full_env,
        input=input,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
