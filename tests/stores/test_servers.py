"""Server stores: the same retrieval on a real PostgreSQL + pgvector (pgserver) and a real Milvus
(milvus-lite in server mode, reached over its URI like a cluster) as on the FAISS files. Both
servers start during the test run; where one cannot, a test is skipped with the reason
(failed on CI)."""

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from helpers import ROOT, SEEDS, make_settings, run_cli

from rag.answering import ask
from rag.errors import IndexBusy, IndexIncompatible
from rag.indexing import ingest, open_index
from rag.retrieve import Filters, search
from rag.stores import store_for

pytestmark = pytest.mark.slow
QUESTIONS = [
    json.loads(line)["question"]
    for line in (ROOT / "rag" / "eval" / "suites" / "seed_dev.jsonl")
    .read_text(encoding="utf-8")
    .splitlines()
    if line.strip()
]


@pytest.fixture(scope="session", params=["pgvector", "milvus"])
def server(request, tmp_path_factory):
    """Settings for a server store holding the seed articles."""
    url = request.getfixturevalue("pg_url" if request.param == "pgvector" else "milvus_url")
    settings = make_settings(
        tmp_path_factory.mktemp("unused"),
        store=request.param,
        store_url=url,
        store_collection="seeds",
    )
    ingest([SEEDS], settings, rebuild=True, quiet=True)
    return settings


def _shape(answer):
    return (
        answer.answer,
        answer.abstained,
        [(c.n, c.source, c.chunk_id, c.start, c.end) for c in answer.citations],
    )


def test_seed_questions_get_the_same_answers_and_citations_as_on_faiss(server, seed_settings):
    differ = [q for q in QUESTIONS if _shape(ask(q, server)) != _shape(ask(q, seed_settings))]
    assert not differ, f"{len(differ)} of {len(QUESTIONS)} answers differ, e.g. {differ[:3]}"


@pytest.mark.parametrize("mode", ["hybrid", "dense", "keyword"])
def test_search_ranks_and_scores_like_faiss(server, seed_settings, mode):
    """Same passages in the same order with the same dense scores; BM25 scores identical on
    PostgreSQL (bm25s' formula in SQL), within 5% on Milvus (its own BM25: its analyzer counts
    document lengths its own way; 3% apart on the English question)."""
    for q in ["전작권 전환 검증은 언제까지?", "핵잠수함 연료 공급", "Who attended the SCM?"]:
        ours, faiss = search(q, server, k=8, mode=mode), search(q, seed_settings, k=8, mode=mode)
        assert [(p.chunk_id, p.start, p.end, p.dense) for p in ours] == [
            (p.chunk_id, p.start, p.end, p.dense) for p in faiss
        ]
        assert ours
        rel = 0 if server.store == "pgvector" else 0.05
        assert [p.keyword for p in ours] == pytest.approx(
            [p.keyword for p in faiss], rel=rel, abs=1e-3
        )


def test_filters_are_done_in_the_engine_and_match_faiss(server, seed_settings):
    metadata = json.loads((SEEDS / "metadata.json").read_text(encoding="utf-8"))
    dated = sorted(
        {
            m.get("published", "")[:10]
            for m in (metadata.values() if isinstance(metadata, dict) else metadata)
        }
        - {""}
    )
    cases = [
        Filters(sources=("003_6ef1ca8856d1c790.txt",)),
        Filters(sources=("000_b0b69da625bc29dc.txt", "nope.txt")),
        Filters(date_from="2999-01-01"),
    ]
    if dated:
        cases += [Filters(date_from=dated[-1]), Filters(date_to=dated[0])]
    for f in cases:
        ours = search("한미 국방 협력", server, k=5, filters=f)
        assert [p.chunk_id for p in ours] == [
            p.chunk_id for p in search("한미 국방 협력", seed_settings, k=5, filters=f)
        ]
        assert all(p.source in f.sources for p in ours) if f.sources else True
    assert search("한미 국방 협력", server, filters=Filters(date_from="2999-01-01")) == []


def test_incremental_ingest_changes_and_deletes(server, corpus):
    settings = replace(server, store_collection="incremental")
    first = ingest([corpus], settings, rebuild=True, quiet=True)
    assert first.chunks_embedded > 50 and len(first.added) == 4
    again = ingest([corpus], settings, quiet=True)
    assert (again.chunks_embedded, again.sentences_embedded, len(again.unchanged)) == (0, 0, 4)
    target = corpus / "001_0fa01c33c17e67eb.txt"
    target.write_text(
        target.read_text(encoding="utf-8")
        + "\n\n양국 국방장관은 워싱턴에서 후속 회의를 열기로 했다.\n",
        encoding="utf-8",
    )
    changed = ingest([corpus], settings, quiet=True)
    assert changed.changed == ["001_0fa01c33c17e67eb.txt"] and 0 < changed.chunks_embedded < 5
    hits = search("워싱턴 후속 회의", settings, k=3)
    assert any("워싱턴에서 후속 회의" in p.text for p in hits)
    (corpus / "003_6ef1ca8856d1c790.txt").unlink()
    removed = ingest([corpus], settings, quiet=True)
    assert removed.removed == ["003_6ef1ca8856d1c790.txt"]
    index = open_index(settings)
    assert "003_6ef1ca8856d1c790.txt" not in {source for _, source in index.catalog().values()}
    assert all(
        p.source != "003_6ef1ca8856d1c790.txt" for p in search("하얏트호텔 만찬", settings, k=5)
    )
    assert index.size() == removed.chunks


def test_migrate_copies_vectors_without_embedding_and_back(server, seed_settings, tmp_path):
    """`rag index migrate` as the real command: FAISS → server → FAISS, vectors bit for bit."""
    faiss_dir = Path(seed_settings.index_dir)
    out = run_cli(
        "index",
        "migrate",
        "--index",
        str(faiss_dir),
        "--to",
        server.store_url,
        "--to-collection",
        "migrated",
    )
    assert out.returncode == 0, out.stderr
    assert "Embedding" not in out.stderr and "Copied" in out.stdout
    migrated = replace(server, store_collection="migrated")
    back = run_cli("index", "migrate", *_flags(migrated), "--to", str(tmp_path / "back"))
    assert back.returncode == 0, back.stderr
    original = open_index(seed_settings).export()
    copy = open_index(replace(seed_settings, index_dir=tmp_path / "back")).export()
    by_id = {c.id: v for c, v in zip(copy.chunks, copy.vectors)}
    assert len(by_id) == len(original.chunks)
    for c, v in zip(original.chunks, original.vectors):
        np.testing.assert_array_equal(by_id[c.id], v)
    assert copy.sentences.keys() == original.sentences.keys()
    for article, sentences in original.sentences.items():
        assert sentences.keys() == copy.sentences[article].keys()
    q = "국방비 증액 규모"
    assert _shape(ask(q, migrated)) == _shape(ask(q, seed_settings))


def _flags(settings) -> list[str]:
    return [
        "--store",
        settings.store,
        "--store-url",
        settings.store_url,
        "--collection",
        settings.store_collection,
    ]


def test_cli_commands_work_unchanged_on_the_store_for(server, seed_settings):
    flags = _flags(server)
    got = run_cli("ask", "전작권 전환 검증은 언제까지?", "--json", *flags)
    assert got.returncode == 0, got.stderr
    expected = run_cli(
        "ask", "전작권 전환 검증은 언제까지?", "--json", "--index", str(seed_settings.index_dir)
    )
    assert json.loads(got.stdout)["answer"] == json.loads(expected.stdout)["answer"]
    assert json.loads(got.stdout)["citations"]
    found = run_cli("search", "핵잠수함", "--json", "--source", "002_c2bd60a9f3b022b5.txt", *flags)
    assert found.returncode == 0 and {
        p["source"] for p in json.loads(found.stdout)["passages"]
    } == {"002_c2bd60a9f3b022b5.txt"}


def test_web_chat_answers_from_the_store_for(server, tmp_path):
    """`rag web` with the store settings in its environment, driven over Chainlit's protocol."""
    from rag.bench import webload

    env = {
        "RAG_STORE": server.store,
        "RAG_STORE_URL": server.store_url,
        "RAG_STORE_COLLECTION": "seeds",
    }
    with webload.serve(tmp_path / "no-faiss-index", cwd=tmp_path, env=env) as (url, pid):
        result = webload.run(url, chats=2, seconds=6, pid=pid)
    assert result["answered"] >= 2 and result["failed"] == 0, result["errors"]
    assert any("[1]" in a for a in result["sample_answers"].values()), result["sample_answers"]
    assert not (tmp_path / "no-faiss-index").exists()  # it used the server, not a FAISS folder


def test_clear_messages_for_a_missing_server_index_or_settings(server):
    nowhere = {"pgvector": "postgresql://nobody@127.0.0.1:1/none", "milvus": "http://127.0.0.1:1"}[
        server.store
    ]
    down = run_cli("ask", "전작권?", "--store", server.store, "--store-url", nowhere)
    assert (
        down.returncode == 2
        and "cannot connect to" in down.stderr
        and "Traceback" not in down.stderr
    )
    missing = run_cli("ask", "전작권?", *_flags(replace(server, store_collection="never_built")))
    assert (
        missing.returncode == 2
        and "no index at" in missing.stderr
        and "rag ingest" in missing.stderr
    )
    no_url = run_cli("ask", "전작권?", "--store", server.store, env={"RAG_STORE_URL": ""})
    assert no_url.returncode == 2 and "store_url is empty" in no_url.stderr
    with pytest.raises(IndexIncompatible, match="chunk settings"):
        open_index(replace(server, chunk_tokens=200))


def test_a_second_writer_is_refused_and_the_index_survives(server):
    before = open_index(server).size()
    with store_for(server).writing():
        with pytest.raises(IndexBusy, match="another process.* is writing"):
            ingest([SEEDS], replace(server, store_collection="seeds"), quiet=True)
    assert open_index(server).size() == before > 0


def test_a_failed_write_leaves_the_previous_index(pg_url, tmp_path, monkeypatch):
    """PostgreSQL: the ingest is one transaction; an error half-way (here, after the deletes and
    inserts, in building the indexes) rolls it all back."""
    settings = make_settings(
        tmp_path / "unused", store="pgvector", store_url=pg_url, store_collection="rollback"
    )
    ingest([SEEDS], settings, rebuild=True, quiet=True)
    before = sorted(open_index(settings).catalog().items())
    import rag.stores.pgvector as store_pg

    def broken(schema):
        raise RuntimeError("simulated failure after the deletes")

    monkeypatch.setattr(store_pg, "_indexes", broken)
    with pytest.raises(RuntimeError):
        ingest([SEEDS], settings, rebuild=True, quiet=True)
    monkeypatch.undo()
    assert sorted(open_index(settings).catalog().items()) == before


def test_an_interrupted_milvus_write_is_repaired_by_the_next_ingest(
    milvus_url, corpus, tmp_path, monkeypatch
):
    """Milvus has no transactions: an ingest that dies before a changed article's content hash is
    written leaves it marked unfinished (nothing doubled, searches still work), and the next ingest
    writes it again."""
    settings = make_settings(
        tmp_path / "unused", store="milvus", store_url=milvus_url, store_collection="interrupted"
    )
    ingest([corpus], settings, rebuild=True, quiet=True)
    target = corpus / "001_0fa01c33c17e67eb.txt"
    target.write_text(
        target.read_text(encoding="utf-8") + "\n\n양국은 연말에 후속 협의를 하기로 했다.\n",
        encoding="utf-8",
    )
    import rag.stores.milvus as store_milvus

    real_batches = store_milvus._batches

    def dies_at_articles(items, size=store_milvus.BATCH):
        if items and isinstance(items[0], dict) and items[0].get("content_hash"):
            raise RuntimeError("killed before the content hashes were written")
        return real_batches(items, size)

    monkeypatch.setattr(store_milvus, "_batches", dies_at_articles)
    with pytest.raises(RuntimeError):
        ingest([corpus], settings, quiet=True)
    monkeypatch.undo()
    index = open_index(settings)
    assert {s: h for h, s in index.catalog().values()}[
        "001_0fa01c33c17e67eb.txt"
    ] == ""  # unfinished
    assert search("연말 후속 협의", settings, k=3)  # readers are not broken meanwhile
    repaired = ingest([corpus], settings, quiet=True)
    assert repaired.changed == ["001_0fa01c33c17e67eb.txt"] and len(repaired.unchanged) == 3
    hits = search("연말 후속 협의", settings, k=3)
    assert any("연말에 후속 협의" in p.text for p in hits)
    ids = [c.id for c in open_index(settings).export().chunks]
    assert len(ids) == len(set(ids)) == open_index(settings).size()  # nothing doubled


def test_eval_command_passes_on_the_store_for(server, tmp_path):
    out = run_cli(
        "eval", "seeds_dev", *_flags(server)[:4], "--report", str(tmp_path / "r"), timeout=900
    )
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    [report] = json.loads((tmp_path / "r" / "report.json").read_text(encoding="utf-8"))
    assert report["passed"], report["metrics"]  # every figure meets the suite's thresholds
    assert report["metrics"]["questions"] == 71 and report["thresholds"]["answer_correct"] > 0


def test_a_milvus_index_left_idle_still_answers(milvus_url, tmp_path):
    """A long-running process (the web chat, the API) keeps its Milvus connection between
    questions: after minutes without a call it must still reach the server. With pymilvus' own
    keep-alive (a ping every 10 s) Milvus Lite closed the channel for good within two minutes."""
    import time

    from rag.stores.milvus import MilvusStore

    settings = make_settings(
        tmp_path / "unused", store="milvus", store_url=milvus_url, store_collection="idle"
    )
    ingest([SEEDS], settings, rebuild=True, quiet=True)
    first = [p.chunk_id for p in search("전작권 전환", settings, k=3)]
    for _ in range(3):  # each pause is past pymilvus' 30 s idle health check
        time.sleep(35)
        fresh = MilvusStore(milvus_url, "idle").load()  # a new client shares the idle channel
        assert fresh.size() == open_index(settings).size() > 0
    assert [p.chunk_id for p in search("전작권 전환", settings, k=3)] == first
