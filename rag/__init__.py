"""Cited-answer retrieval over Korean (and English) news articles.

Stages, one module each: ``ingest`` (files → Article), ``chunking`` (Article → Chunk),
``embeddings`` and ``store`` (Chunk → vectors + keyword index on disk), ``retrieve``
(query → Passage), ``answer`` and ``cite`` (Passages → cited Answer). ``pipeline`` wires
them together; ``cli`` and ``web`` are thin fronts over it. Nothing heavy loads at import.
"""

__version__ = "0.1.0"
