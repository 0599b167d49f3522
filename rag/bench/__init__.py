"""Benchmarks (`rag bench`): they import the library and ``rag.eval``; nothing imports them.

retrieval   KorQuAD retrieval quality against plain RRF and the LangChain tutorial pipeline
stores      the same corpus on FAISS, PostgreSQL and Milvus
perf        every stage's speed beside its comparison, in one run
archive     a 20,000-article ingest, SIGKILLed halfway and resumed: time and memory
webload     concurrent chats over Chainlit's Socket.IO protocol
servers     local PostgreSQL and Milvus servers from PyPI wheels, for benchmarks and tests
"""
