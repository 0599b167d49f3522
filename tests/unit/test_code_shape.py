"""The code stays small and plain: limits the architecture issue set, checked on every run.

Each function in ``rag/`` (the CLI's argparse wiring aside) stays under cyclomatic complexity 15
(radon's count, which includes boolean operators and comprehension conditions) and 60 lines;
nothing outside ``rag/bench/`` imports the benchmarks; no module shadows the standard library."""

import ast
import sys
from pathlib import Path

import pytest
from radon.complexity import cc_visit

RAG = Path(__file__).resolve().parents[2] / "rag"
SOURCES = sorted(p for p in RAG.rglob("*.py") if p.name != "cli.py")
MAX_COMPLEXITY, MAX_LINES = 15, 60


def _functions(path: Path):
    """Every function and method of a file (radon lists classes with their methods)."""
    seen = {}
    for block in cc_visit(path.read_text(encoding="utf-8")):
        for f in getattr(block, "methods", None) or [block]:
            if not hasattr(f, "methods"):
                seen[(f.name, f.lineno)] = f
    return seen.values()


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(RAG)))
def test_functions_are_small(path):
    too_big = [
        f"{f.name} (line {f.lineno}): complexity {f.complexity}, {f.endline - f.lineno + 1} lines"
        for f in _functions(path)
        if f.complexity > MAX_COMPLEXITY or f.endline - f.lineno + 1 > MAX_LINES
    ]
    assert not too_big, too_big


def _imports(path: Path) -> set[str]:
    """Absolute names of the ``rag`` modules a file imports (relative imports resolved)."""
    package = ".".join(path.relative_to(RAG.parent).with_suffix("").parts)
    if path.name == "__init__.py":
        package += ".__init__"
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            base = package.split(".")[: -node.level] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            names |= {module} | {f"{module}.{a.name}" for a in node.names}
        elif isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
    return {n for n in names if n == "rag" or n.startswith("rag.")}


def test_nothing_outside_bench_imports_it():
    """The benchmarks import the library (and ``rag.eval``), never the reverse; only the CLI's
    `rag bench` dispatch reaches them."""
    offenders = [
        str(p.relative_to(RAG))
        for p in RAG.rglob("*.py")
        if "bench" not in p.relative_to(RAG).parts
        and p.name != "cli.py"
        and any(n.startswith("rag.bench") for n in _imports(p))
    ]
    assert not offenders


def test_stages_do_not_import_the_fronts():
    fronts = ("rag.cli", "rag.web")
    offenders = [
        str(p.relative_to(RAG))
        for p in RAG.rglob("*.py")
        if p.name not in ("cli.py", "web.py") and any(n.startswith(fronts) for n in _imports(p))
    ]
    assert not offenders


def test_no_module_shadows_the_standard_library():
    names = {p.stem for p in RAG.rglob("*.py")} | {p.parent.name for p in RAG.rglob("__init__.py")}
    # a subpackage may take a library's name inside its package (stores.faiss), but not a stdlib one
    assert not names & set(sys.stdlib_module_names)
