"""A non-editable install in a fresh virtual environment, run from a folder that is not the
checkout: the package carries its prompts, evaluation suites, seed articles and data sets."""

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from helpers import ROOT
from scripted_openai import ScriptedEndpoint

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """A fresh venv with the wheel of this checkout installed (no editable link); its
    dependencies are borrowed from the test environment (a .pth line), so nothing is downloaded."""
    venv, wheels = tmp_path_factory.mktemp("venv"), tmp_path_factory.mktemp("wheels")
    source = tmp_path_factory.mktemp("source") / "rag-news"  # setuptools writes build/ into it
    skip = shutil.ignore_patterns(
        ".git", ".venv", ".cache", "build", "*.egg-info", "reports", "vectorstore"
    )
    shutil.copytree(ROOT, source, ignore=skip)
    build = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation"]
    build.append(str(source))
    subprocess.run([*build, "-w", str(wheels)], check=True, capture_output=True, timeout=600)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    site = next((venv / "lib").glob("python*/site-packages"))
    (site / "borrowed.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    [wheel] = wheels.glob("rag_news-*.whl")
    install = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-deps", str(wheel)]
    subprocess.run(install, check=True, capture_output=True, timeout=600)
    return venv


def _run(venv, *args, cwd, env=None):
    full = {**os.environ, **(env or {}), "PYTHONPATH": ""}
    return subprocess.run(
        [str(venv / "bin" / "rag"), *args],
        cwd=cwd,
        env=full,
        capture_output=True,
        text=True,
        timeout=900,
    )


def test_the_installed_package_is_not_the_checkout(installed, tmp_path):
    code = "import rag, rag.answering.prompts as p; print(rag.__file__); print(p.PROMPTS_DIR)"
    out = subprocess.run(
        [str(installed / "bin" / "python"), "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert all(str(installed) in line and str(ROOT) not in line for line in out), out


def test_ask_with_an_llm_finds_its_prompts(installed, tmp_path):
    """The LLM backend renders prompts/system.txt and answer.txt from the installed package: the
    endpoint receives them, and the answer comes back cited."""
    index = tmp_path / "index"
    assert _run(installed, "ingest", "--index", str(index), "--quiet", cwd=tmp_path).returncode == 0
    endpoint = ScriptedEndpoint(
        "한미 양국은 한국 국방비를 GDP 대비 3.5%로 확대하는 데 공감했다 [1]."
    )
    try:
        env = {"RAG_LLM_BASE_URL": endpoint.url}
        out = _run(
            installed,
            "ask",
            "한국 국방비는 GDP 대비 몇 퍼센트로 확대되나?",
            "--backend",
            "openai",
            "--index",
            str(index),
            cwd=tmp_path,
            env=env,
        )
    finally:
        endpoint.close()
    assert out.returncode == 0, out.stderr
    sent = " ".join(m["content"] for r in endpoint.requests for m in r["body"].get("messages", []))
    assert "<passage>" in sent and "prompt file" not in out.stdout
    assert "3.5%" in out.stdout and "[1]" in out.stdout


def test_eval_finds_its_suites_and_data(installed, tmp_path):
    out = _run(installed, "eval", "seeds_dev", "--report", str(tmp_path / "report"), cwd=tmp_path)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    assert (tmp_path / "report" / "report.json").is_file()
    missing = _run(installed, "eval", "no-such-suite", cwd=tmp_path)
    assert missing.returncode == 2 and "korquad" in missing.stderr and "seeds" in missing.stderr
    assert Path(tmp_path / "report" / "junit.xml").is_file()
