"""Ingesting URLs: a local HTTP server (in the test process) serves real pages of the
article-extraction benchmark, an RSS feed of them, a sitemap, and every kind of trouble: a
redirect on the same host and to another host, a 404, a slow answer, a huge body, an image, a
page robots.txt disallows, a page with no article, a malformed feed and a feed of 10,000
items. Each gets a clear outcome, nothing indexed is lost, and polling an unchanged feed
downloads no article again (conditional GET)."""

import gzip
import hashlib
import http.server
import json
import threading
import time
from collections import Counter

import pytest
from helpers import ROOT, korean_pdf, make_settings, run_cli

from rag.indexing import ingest, open_index
from rag.retrieve import search

PAGES = ROOT / "rag" / "data" / "article-extraction"
TRUTH = json.loads((PAGES / "ground-truth.json").read_text(encoding="utf-8"))
IDS = sorted(TRUTH)[:3]


def _page(n: int) -> bytes:
    with gzip.open(PAGES / "html" / f"{IDS[n]}.html.gz", "rb") as f:
        return f.read()


def _rss(links: list[str]) -> bytes:
    items = "".join(
        f"<item><title>Story {n}</title><link>{link}</link>"
        f"<pubDate>Tue, 19 Nov 2019 0{n % 10}:00:00 GMT</pubDate></item>"
        for n, link in enumerate(links)
    )
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Test feed</title>'
        f"{items}</channel></rss>"
    ).encode()


class Site(http.server.BaseHTTPRequestHandler):
    """The routes; ``hits`` counts full (200) answers per path, ``conditional`` 304s."""

    hits: Counter = Counter()
    conditional: Counter = Counter()
    routes: dict = {}

    def log_message(self, *args):
        pass

    def handle(self):
        try:
            super().handle()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up on a slow or huge answer, as it should

    def do_GET(self):
        path = self.path
        if path == "/slow":
            time.sleep(3)
        if path.startswith("/redirect-"):
            port = self.server.server_address[1]
            host = "127.0.0.1" if path == "/redirect-same" else "localhost"
            self.send_response(302)
            self.send_header("Location", f"http://{host}:{port}/news/0.html")
            self.end_headers()
            return
        if path not in self.routes:
            self.send_error(404)
            return
        kind, body = self.routes[path]
        etag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
        if self.headers.get("If-None-Match") == etag:
            self.conditional[path] += 1
            self.send_response(304)
            self.end_headers()
            return
        self.hits[path] += 1
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("ETag", etag)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    release = korean_pdf(
        tmp_path_factory.mktemp("pdf") / "release.pdf",
        "한미 조선 협력 확대",
        ["양국은 함정 정비와 공동 건조를 논의하는 실무 협의체를 내년 상반기에 출범시키기로 했다."],
    )
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Site)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    html = "text/html; charset=utf-8"
    Site.routes = {
        "/robots.txt": ("text/plain", b"User-agent: *\nDisallow: /private/\n"),
        **{f"/news/{n}.html": (html, _page(n)) for n in range(3)},
        "/feed.xml": ("application/rss+xml", _rss([f"{base}/news/{n}.html" for n in range(3)])),
        "/sitemap.xml": (
            "application/xml",
            b'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            + b"".join(f"<url><loc>{base}/news/{n}.html</loc></url>".encode() for n in (1, 2))
            + b"</urlset>",
        ),
        "/big-feed.xml": (
            "application/rss+xml",
            _rss([f"{base}/items/{n}.html" for n in range(10_000)]),
        ),
        "/malformed.xml": ("application/rss+xml", b"<rss><channel><item><title>broken"),
        "/huge.html": (html, b"<html><body><p>" + b"x" * (6 * 2**20) + b"</p></body></html>"),
        "/image.png": ("image/png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 1000),
        "/private/secret.html": (html, _page(0)),
        "/empty.html": (html, b"<html><body><nav><a href='/'>Home</a></nav></body></html>"),
        "/release.pdf": ("application/pdf", release.read_bytes()),
        "/plain.txt": (
            "text/plain; charset=utf-8",
            "한미 조선 협력 확대\n양국은 함정 정비 협력을 확대하기로 합의했다.\n".encode(),
        ),
    }
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield base
    server.shutdown()


def _settings(tmp_path, **extra):
    return make_settings(tmp_path / "index", fetch_delay=0, fetch_timeout=1, **extra)


def test_a_feed_is_indexed_and_every_bad_url_gets_a_reason(site, tmp_path):
    settings = _settings(tmp_path)
    bad = [
        "/redirect-same",
        "/redirect-other",
        "/missing.html",
        "/slow",
        "/huge.html",
        "/image.png",
        "/private/secret.html",
        "/empty.html",
        "/malformed.xml",
    ]
    report = ingest([f"{site}/feed.xml"] + [site + b for b in bad], settings, quiet=True)
    assert sorted(report.added) == [f"{site}/news/{n}.html" for n in range(3)]
    reasons = dict(report.skipped)
    expected = {
        "/redirect-other": "redirects to another host (localhost)",
        "/missing.html": "HTTP 404",
        "/slow": "no answer within 1 s",
        "/huge.html": "larger than 5 MB",
        "/image.png": "image/png is not a web page or feed",
        "/private/secret.html": "robots.txt disallows it",
        "/empty.html": "no article text",
        "/malformed.xml": "not a feed with items",
    }
    for path, phrase in expected.items():
        assert phrase in reasons[site + path], (path, reasons.get(site + path))
    assert site + "/redirect-same" not in reasons  # followed to /news/0.html, already indexed
    first_sentence = TRUTH[IDS[1]]["articleBody"].split(".")[0]
    hits = search(first_sentence, settings, k=3)
    assert hits[0].source == f"{site}/news/1.html"
    assert hits[0].published == "2019-11-19" and hits[0].title

    size, pages_fetched = (
        open_index(settings).size(),
        sum(Site.hits[f"/news/{n}.html"] for n in range(3)),
    )
    again = ingest([f"{site}/feed.xml"], settings, quiet=True)
    assert Site.conditional["/feed.xml"] >= 1  # the server said "not modified"
    assert sum(Site.hits[f"/news/{n}.html"] for n in range(3)) == pages_fetched
    assert not again.added and not again.changed and not again.removed
    assert open_index(settings).size() == size  # nothing indexed is lost


def test_a_feed_of_ten_thousand_items_reads_the_newest_only(site, tmp_path):
    settings = _settings(tmp_path, feed_items=4)
    report = ingest([f"{site}/big-feed.xml"], settings, quiet=True)
    reasons = dict(report.skipped)
    assert "9996 older items left out (feed_items=4)" in reasons[f"{site}/big-feed.xml"]
    assert sum(1 for url in reasons if "/items/" in url) == 4  # each 404 reported, no more


def test_a_sitemap_and_rag_watch_keep_an_index_current(site, tmp_path):
    index = tmp_path / "index"
    out = run_cli(
        "watch",
        f"{site}/sitemap.xml",
        "--every",
        "1s",
        "--rounds",
        "2",
        "--index",
        str(index),
        env={"RAG_FETCH_DELAY": "0"},
    )
    assert out.returncode == 0, out.stderr[-2000:]
    rounds = [line for line in out.stdout.splitlines() if line.startswith("20")]
    assert len(rounds) == 2 and "new 2" in out.stdout.split(rounds[1])[0]
    assert "new 0, changed 0" in out.stdout.split(rounds[1])[1]
    sources = {h.source for h in search("the", make_settings(index), k=5)}
    assert sources == {f"{site}/news/1.html", f"{site}/news/2.html"}


def test_a_plain_text_url_is_read_as_text(site, tmp_path):
    settings = _settings(tmp_path)
    report = ingest([f"{site}/plain.txt"], settings, quiet=True)
    assert report.added == [f"{site}/plain.txt"]
    [hit] = search("함정 정비 협력", settings, k=1)
    assert hit.title == "한미 조선 협력 확대" and "함정 정비 협력을 확대" in hit.text


def test_a_pdf_url_is_read_as_an_article(site, tmp_path):
    settings = _settings(tmp_path)
    report = ingest([f"{site}/release.pdf"], settings, quiet=True)
    assert report.added == [f"{site}/release.pdf"]
    [hit] = search("실무 협의체 출범", settings, k=1)
    assert hit.source == f"{site}/release.pdf" and hit.title == "한미 조선 협력 확대"
    assert "실무 협의체를 내년 상반기에 출범시키기로 했다" in hit.text
