"""Prompt files (``prompts/`` beside this module, package data), rendered strictly: a missing or
unknown variable is an error.

    >>> render("answer.txt", passages="[1] …", question="전작권 전환은?", language="Korean")
"""

from __future__ import annotations

import string
from pathlib import Path

from ..errors import RagError

PROMPTS_DIR = Path(__file__).with_name("prompts")


def render(name: str, prompts_dir: Path = PROMPTS_DIR, **values: str) -> str:
    """The prompt file ``name`` with ``{variables}`` filled; every variable must be given, and
    used."""
    try:
        template = (prompts_dir / name).read_text(encoding="utf-8")
    except OSError as e:
        raise RagError(
            f"prompt file {prompts_dir / name} is unreadable ({e.strerror})",
            "reinstall rag-news (the prompt files ship with the package)",
        ) from None
    fields = {f for _, f, _, _ in string.Formatter().parse(template) if f}
    missing, unused = fields - set(values), set(values) - fields
    if missing or unused:
        raise RagError(
            f"prompt {name}: missing {sorted(missing)}, unused {sorted(unused)}",
            "make the prompt file and the code name the same variables",
        )
    return template.format(**values)
