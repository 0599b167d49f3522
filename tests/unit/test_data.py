"""The benchmark folders in rag/data are verbatim copies: every file listed with its sha256, and
every file there listed (a benchmark edited or extended by hand would score what it should not)."""

import hashlib
from pathlib import Path

import rag

DATA = Path(rag.__file__).parent / "data"


def test_the_benchmark_copies_are_unchanged():
    listed = {}
    for line in (DATA / "SHA256SUMS").read_text(encoding="utf-8").splitlines():
        digest, name = line.split(maxsplit=1)
        listed[name] = digest
    changed = [
        name
        for name, digest in listed.items()
        if hashlib.sha256((DATA / name).read_bytes()).hexdigest() != digest
    ]
    assert not changed, f"benchmark files differ from their recorded sha256: {changed}"
    present = {
        str(p.relative_to(DATA))
        for folder in ("korquad", "article-extraction")
        for p in (DATA / folder).rglob("*")
        if p.is_file()
    }
    assert present == set(listed), f"unlisted or missing files: {present ^ set(listed)}"
