"""URLs → articles: web pages, RSS/Atom feeds (feedparser) and sitemaps, fetched politely.

    articles_from_urls(urls, settings, catalog, report)   the articles fetched

Politeness: robots.txt is obeyed; one request at a time, ``fetch_delay`` seconds apart on one
host; ``fetch_timeout`` per connect or read; bodies over ``MAX_BYTES`` are refused; the
User-Agent names the project; and every URL's ETag and Last-Modified are kept in
``fetch-cache.json`` in the index folder, so asking again for an unchanged feed or an indexed
page downloads nothing (the server answers 304). A redirect is followed on the same host only:
a page that sends the reader elsewhere is reported, not silently indexed from another site.

An article fetched from the web is indexed with its URL as key and source; nothing fetched
is ever removed by a later ingest.
"""

from __future__ import annotations

import json
import os
import time
import urllib.robotparser
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urljoin, urlsplit

from .articles import Article, extract
from .errors import BadInput
from .settings import Settings

USER_AGENT = "rag-news/0.1 (offline cited answers over news; one request at a time per host)"
MAX_BYTES = 5 * 1024 * 1024
MAX_URL = 2000
REDIRECTS = 5
PAGE_TYPES = ("text/html", "application/xhtml+xml", "text/plain")
FEED_TYPES = ("rss", "atom", "rdf", "feed+json")
CACHE_FILE = "fetch-cache.json"


def is_url(text) -> bool:
    return isinstance(text, str) and text.lower().startswith(("http://", "https://"))


def split_sources(sources: list) -> tuple[list[str], list[Path]]:
    """URLs (given as strings) apart from file and folder paths."""
    return [s for s in sources if is_url(s)], [Path(s) for s in sources if not is_url(s)]


@dataclass
class Response:
    url: str
    status: int  # 200, or 304 (not modified)
    body: bytes
    content_type: str
    validators: dict = field(default_factory=dict)  # ETag / Last-Modified


class Fetcher:
    """One polite HTTP client for one ingest (see the module docstring)."""

    def __init__(self, settings: Settings):
        import httpx

        self.timeout, self.delay = settings.fetch_timeout, settings.fetch_delay
        self.client = httpx.Client(
            timeout=httpx.Timeout(self.timeout),
            follow_redirects=False,
            headers={"User-Agent": USER_AGENT},
        )
        self.cache_path = Path(settings.index_dir) / CACHE_FILE
        self.cache: dict[str, dict] = _read_json(self.cache_path)
        self.robots: dict[str, urllib.robotparser.RobotFileParser] = {}
        self.last: dict[str, float] = {}

    def get(self, url: str, conditional: bool = True) -> Response:
        """The body at ``url`` (following same-host redirects), or 304 when unchanged since the
        cached validators; every failure is a BadInput saying what happened."""
        _check_url(url)
        start = url
        for _ in range(REDIRECTS + 1):
            self._allowed(url)
            headers = _conditional(self.cache.get(url, {})) if conditional else {}
            response = self._request(url, headers)
            if response.status_code in (301, 302, 303, 307, 308):
                target = urljoin(url, response.headers.get("location", ""))
                if urlsplit(target).hostname != urlsplit(start).hostname:
                    raise BadInput(
                        f"{start}: redirects to another host ({urlsplit(target).hostname})",
                        f"ingest {target} itself if you trust that site",
                    )
                url = target
                continue
            return self._response(url, response)
        raise BadInput(f"{start}: more than {REDIRECTS} redirects", "check the address")

    def _request(self, url: str, headers: dict):
        import httpx

        host = urlsplit(url).netloc
        wait = self.last.get(host, 0) + self.delay - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        try:
            with self.client.stream("GET", url, headers=headers) as response:
                body = bytearray()
                declared = response.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > MAX_BYTES:
                    raise _too_big(url)
                for part in response.iter_bytes():
                    body += part
                    if len(body) > MAX_BYTES:
                        raise _too_big(url)
                response.body = bytes(body)
                return response
        except httpx.TimeoutException:
            raise BadInput(
                f"{url}: no answer within {self.timeout:g} s",
                "try again later, or raise fetch_timeout",
            ) from None
        except httpx.HTTPError as e:
            raise BadInput(
                f"{url}: cannot fetch ({e})", "check the address and the network"
            ) from None
        finally:
            self.last[host] = time.monotonic()

    def _response(self, url: str, response) -> Response:
        kind = response.headers.get("content-type", "").split(";")[0].strip().lower()
        if response.status_code == 304:
            return Response(url, 304, b"", kind)
        if response.status_code != 200:
            raise BadInput(
                f"{url}: the server answered HTTP {response.status_code}",
                "check the address" if response.status_code < 500 else "try again later",
            )
        validators = {
            k: response.headers[k] for k in ("etag", "last-modified") if k in response.headers
        }
        return Response(url, 200, response.body, kind, validators)

    def remember(self, response: Response, kind: str) -> None:
        """Keep a URL's validators once what it held is safely handled."""
        if response.validators:
            self.cache[response.url] = {**response.validators, "kind": kind}

    def _allowed(self, url: str) -> None:
        parts = urlsplit(url)
        host = f"{parts.scheme}://{parts.netloc}"
        if host not in self.robots:
            robots = urllib.robotparser.RobotFileParser()
            try:
                answer = self._request(host + "/robots.txt", {})
                lines = answer.body.decode("utf-8", "replace").splitlines()
                robots.parse(lines if answer.status_code == 200 else [])
            except BadInput:
                robots.parse([])  # no robots.txt to read: nothing is disallowed
            self.robots[host] = robots
        if not self.robots[host].can_fetch(USER_AGENT, url):
            raise BadInput(f"{url}: the site's robots.txt disallows it", "leave it out")

    def close(self) -> None:
        self.client.close()
        if self.cache:
            self.cache_path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.cache_path.with_suffix(".tmp")
            tmp.write_text(json.dumps(self.cache, indent=1), encoding="utf-8")
            os.replace(tmp, self.cache_path)


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}  # no cache yet, or a damaged one: everything is fetched in full
    return data if isinstance(data, dict) else {}


def _conditional(validators: dict) -> dict:
    out = {}
    if "etag" in validators:
        out["If-None-Match"] = validators["etag"]
    if "last-modified" in validators:
        out["If-Modified-Since"] = validators["last-modified"]
    return out


def _check_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BadInput(f"{url[:200]}: not an http(s) URL", "give a URL like https://host/path")
    if len(url) > MAX_URL:
        raise BadInput(f"{url[:200]}…: longer than {MAX_URL} characters", "shorten the URL")


def _too_big(url: str) -> BadInput:
    return BadInput(
        f"{url}: larger than {MAX_BYTES // 2**20} MB, skipped", "that is not a single article"
    )


def _kind(response: Response) -> str:
    """'feed', 'sitemap' or 'page', by content type, then by the body's first tag."""
    head = response.body[:2048].lstrip().lower()
    if any(t in response.content_type for t in FEED_TYPES) or b"<rss" in head or b"<feed" in head:
        return "feed"
    if b"<urlset" in head or b"<sitemapindex" in head:
        return "sitemap"
    if response.content_type in PAGE_TYPES or head.startswith((b"<!doctype html", b"<html")):
        return "page"
    if response.content_type == "application/pdf" or response.body.startswith(b"%PDF"):
        return "page"  # a press release or report as a PDF
    if "xml" in response.content_type:
        return "feed"  # feedparser says whether it is one
    raise BadInput(
        f"{response.url}: {response.content_type or 'an unknown type'} is not a web page or feed",
        "ingest HTML pages, PDFs, RSS/Atom feeds or sitemaps",
    )


@dataclass
class _Run:
    fetcher: Fetcher
    settings: Settings
    catalog: dict
    report: object
    found: list[Article] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)
    failures: int = 0

    def skip(self, url: str, e: BadInput) -> None:
        reason = e.message.split(": ", 1)[-1] + (f" ({e.hint})" if e.hint else "")
        self.report.skipped.append((url, reason))
        self.failures += 1

    def url(self, url: str, meta: dict | None = None, depth: int = 0) -> None:
        """One URL: a page becomes an article; a feed's or sitemap's items are read in turn. A
        conditional request is made for a page already indexed, and for a feed or sitemap."""
        if url in self.seen:
            return
        self.seen.add(url)
        try:
            known = url in self.catalog
            listing = self.fetcher.cache.get(url, {}).get("kind") in ("feed", "sitemap")
            response = self.fetcher.get(url, conditional=known or listing)
            if response.status == 304:
                if known:
                    self.report.unchanged.append(url)
                return  # a feed or sitemap unchanged since the last ingest: nothing new
            kind = _kind(response)
            if kind == "page":
                self._page(response, meta or {})
            elif depth >= 2:
                raise BadInput(f"{url}: a {kind} listed inside another", "ingest it directly")
            elif not self._items(response, kind, depth):
                return  # an item failed: fetch the whole listing again next time
            self.fetcher.remember(response, kind)
        except BadInput as e:
            self.skip(url, e)

    def _page(self, response: Response, meta: dict) -> None:
        name = {"text/plain": "page.txt", "application/pdf": "page.pdf"}.get(
            response.content_type, "page.pdf" if response.body.startswith(b"%PDF") else "page.html"
        )
        e = extract(response.body, Path(name), meta)
        e = replace(e, outlet=e.outlet or (urlsplit(response.url).hostname or ""))
        if all(a.key != response.url for a in self.found):  # not reached again via a redirect
            self.found.append(e.article(response.url, response.url))

    def _items(self, response: Response, kind: str, depth: int) -> bool:
        """Read a feed's or sitemap's newest ``feed_items`` items; whether all of them were."""
        items = _feed_items(response) if kind == "feed" else _sitemap_items(response)
        limit = self.settings.feed_items
        if len(items) > limit:
            self.report.skipped.append(
                (response.url, f"{len(items) - limit} older items left out (feed_items={limit})")
            )
        before = self.failures
        for link, meta in items[:limit]:
            self.url(urljoin(response.url, link), meta, depth + 1)
        return self.failures == before


def _feed_items(response: Response) -> list[tuple[str, dict]]:
    """A feed's entries, newest first: (link, metadata from the feed)."""
    import feedparser

    parsed = feedparser.parse(response.body)
    items = []
    for entry in parsed.entries:
        if not entry.get("link"):
            continue
        when = entry.get("published_parsed") or entry.get("updated_parsed")
        meta = {"title": entry.get("title", "")}
        if when:
            meta["published"] = time.strftime("%Y-%m-%d", when)
        items.append((entry["link"], {k: v for k, v in meta.items() if v}, when or ()))
    if not items:
        problem = f" ({parsed.get('bozo_exception')})" if parsed.get("bozo") else ""
        raise BadInput(
            f"{response.url}: not a feed with items{problem}", "check that it is an RSS/Atom feed"
        )
    items.sort(key=lambda item: tuple(item[2]), reverse=True)
    return [(link, meta) for link, meta, _ in items]


def _sitemap_items(response: Response) -> list[tuple[str, dict]]:
    """A sitemap's page URLs (or a sitemap index's sitemaps), newest first where dated."""
    from lxml import etree

    try:
        root = etree.fromstring(response.body, parser=etree.XMLParser(resolve_entities=False))
    except etree.XMLSyntaxError as e:
        raise BadInput(f"{response.url}: not a readable sitemap ({e})", "check the URL") from None
    entries = []
    for node in root:
        loc = node.findtext("{*}loc") or ""
        if loc.strip():
            entries.append((loc.strip(), node.findtext("{*}lastmod") or ""))
    entries.sort(key=lambda e: e[1], reverse=True)
    return [(loc, {}) for loc, _ in entries]


def articles_from_urls(urls: list[str], settings: Settings, catalog: dict, report) -> list[Article]:
    """The articles at ``urls`` (pages, feeds, sitemaps) that were fetched; pages the server
    says are unchanged, and what could not be read, go into ``report`` with the reason."""
    run = _Run(Fetcher(settings), settings, catalog, report)
    try:
        for url in urls:
            run.url(url)
    finally:
        run.fetcher.close()
    return run.found
