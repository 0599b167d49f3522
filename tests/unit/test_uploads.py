"""What the web chat accepts as articles, where they go, and what it refuses and why."""

from dataclasses import replace

from rag import uploads
from rag.indexing import IngestReport
from rag.settings import load_settings


def test_files_are_checked_for_type_size_and_count():
    settings = load_settings({"web_upload_mb": 0.001, "web_upload_files": 2})
    accepted, refused = uploads.check_files(
        [("a.png", "/x/a.png", 10), ("big.txt", "/x/big.txt", 5000), ("ok.md", "/x/ok.md", 10)],
        settings,
    )
    assert [n for n, _ in accepted] == [] and len(refused) == 3
    assert refused[0][1].startswith("not an article file") and "larger than" in refused[1][1]
    assert "more than 2 files" in refused[2][1]


def test_private_and_loopback_urls_are_refused_unless_an_admin_allows_them():
    settings = load_settings()
    allowed, refused = uploads.check_urls(["http://127.0.0.1/x", "http://localhost:9/a"], settings)
    assert not allowed and all("private or local address" in why for _, why in refused)
    assert all("web_private_urls" in why for _, why in refused)  # says what to do
    open_to_all = replace(settings, web_private_urls="allow")
    assert uploads.check_urls(["http://127.0.0.1/x"], open_to_all) == (["http://127.0.0.1/x"], [])


def test_only_a_message_of_urls_adds_pages():
    assert uploads.pasted_urls("https://a.example/1 https://b.example/feed.xml") == [
        "https://a.example/1",
        "https://b.example/feed.xml",
    ]
    assert uploads.pasted_urls("이 기사 https://a.example/1 요약해줘") == []  # a question about it


def test_per_user_uploads_go_into_a_copy_of_the_shared_index(tmp_path):
    shared = tmp_path / "index"
    (shared / "gen-000001").mkdir(parents=True)
    (shared / "CURRENT").write_text("gen-000001")
    (shared / ".lock").touch()
    settings = load_settings({"index_dir": str(shared), "web_uploads": "per-user"})
    own, folder = uploads.places(settings, "kim@example")
    assert own.index_dir != shared and (own.index_dir / "CURRENT").read_text() == "gen-000001"
    assert not (own.index_dir / ".lock").exists() and folder.name == "uploads"
    assert uploads.question_settings(settings, "kim@example").index_dir == own.index_dir
    assert uploads.question_settings(settings, "lee").index_dir == shared  # no uploads: shared
    outside, _ = uploads.places(settings, "../..")  # a sign-in name cannot leave the folder
    assert outside.index_dir.parent.parent == tmp_path / "index-users"


def test_kept_files_keep_their_names_and_a_summary_gives_every_reason(tmp_path):
    source = tmp_path / "tmp-upload-123"
    source.write_text("기사", encoding="utf-8")
    kept = uploads.keep([("../../etc/기사 1.txt", source)], tmp_path / "uploads")
    assert kept == [tmp_path / "uploads" / "기사_1.txt"]  # no path escapes the folder
    other = tmp_path / "tmp-upload-456"
    other.write_text("다른 기사", encoding="utf-8")
    again = uploads.keep([("기사 1.txt", source), ("기사 1.txt", other)], tmp_path / "uploads")
    assert again == [kept[0], tmp_path / "uploads" / "기사_1-2.txt"]  # the first one is kept
    assert kept[0].read_text(encoding="utf-8") == "기사"
    report = IngestReport(added=["a"], skipped=[(str(kept[0]), "empty after cleaning")])
    text = uploads.summary(report, [("x.png", "not an article file")], "ko")
    assert "새 기사 1" in text and "x.png: not an article file" in text
    assert "기사_1.txt: empty after cleaning" in text


def test_the_chats_chainlit_configuration_carries_the_settings(tmp_path):
    """`rag web` writes Chainlit's config from the settings: the upload limits, and how long a
    disconnected chat is kept (a dropped chat's memory is let go after it)."""
    import tomllib

    from rag.cli import web_state

    settings = load_settings(
        {
            "index_dir": tmp_path / "index",
            "chat_history": "off",
            "web_session_seconds": 42,
            "web_upload_files": 3,
        }
    )
    web_state(settings)
    config = tomllib.loads((tmp_path / "index-web" / ".chainlit" / "config.toml").read_text())
    assert config["project"]["session_timeout"] == 42
    assert config["features"]["spontaneous_file_upload"]["max_files"] == 3
