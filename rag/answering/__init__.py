"""Passages → a cited Answer: ``compose`` (extractive, no LLM), ``llm`` (an LLM writes it),
``cite`` (the checker every answer passes), ``ask`` (the whole path for one question)."""

from .answer import ABSTAIN, Answer, Citation
from .ask import ask, condense

__all__ = ["ABSTAIN", "Answer", "Citation", "ask", "condense"]
