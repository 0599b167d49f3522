"""Files → Article: decode (or read a PDF), clean web noise, drop repeated blocks, find
title/date/outlet.

    >>> art = read_article(Path("rag/data/seeds/003_6ef1ca8856d1c790.txt"))
    >>> art.title, art.published, art.outlet
    ("한미, 경제안보 이슈 논의 '공급망·산업 대화' 장관급 격상", '2022-05-21', '연합뉴스')

The cleaned ``text`` keeps the article's own lines verbatim (only Unicode-normalised
and trimmed), one paragraph per line, so a quoted span is always the article's words.
Metadata the text does not give comes from a ``metadata.json`` beside the files:
``{"FILE NAME": {"title": ..., "published": "YYYY-MM-DD", "outlet": ...}}``.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from .errors import BadInput

CLEANER_VERSION = 2  # 2: web pages read by trafilatura
SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm", ".pdf")
MAX_FILE_BYTES = 20 * 1024 * 1024
SHORT_PAGE = 200  # characters: a web page's body this short is checked to be an article
SHORT_PRECISE = 500  # characters: a precise reading this short is checked against a plain one
METADATA_FILE = "metadata.json"

# Whole lines that are page furniture, not article text (share/scrap/comment buttons…).
FURNITURE = {
    "기사 스크랩",
    "스크랩",
    "공유",
    "공유하기",
    "댓글",
    "클린뷰",
    "프린트",
    "인쇄",
    "글자크기",
    "구독",
    "구독하기",
    "좋아요",
    "추천",
    "목록",
    "이전글",
    "다음글",
    "본문 바로가기",
    "share",
    "print",
    "comment",
    "comments",
    "subscribe",
    "scrap",
    "tweet",
    "email",
}
FURNITURE_PATTERNS = [
    re.compile(r"^[\s\-–—,.·|•*_=~]*$"),  # lone punctuation and rules
    re.compile(
        r"카테고리의 다른 글|관련\s?기사|많이 본 뉴스|무단\s?전재|재배포 금지|ⓒ|copyright", re.I
    ),
    re.compile(r"^/\s?\S{2,12}$"),  # a byline such as "/연합뉴스"
]
TABLE_ROW = re.compile(r"^\|.*\|$")  # a blog's "other posts" table
BYLINE = re.compile(r"^/\s?(\S{2,12})$|\((?:[가-힣]+=)?(연합뉴스|뉴시스|뉴스1)\)")
DATE = re.compile(r"(20\d\d|19\d\d)\s*[.\-/년]\s*(\d{1,2})\s*[.\-/월]\s*(\d{1,2})\s*일?")
SENTENCE_END = re.compile(r"[.?!。…다요까]['\"”’)\]]*$")
PDF_MAX_PAGES = 300
PAGE_NUMBER = re.compile(
    r"^[\s\-–—(]*\d{1,4}(\s*/\s*\d{1,4})?[\s\-–—)]*$"
)  # "3", "- 3 -", "3 / 12"
WRAPPED = 0.8  # a PDF line this long, against the page's longer lines, went on in the next line
PLACEHOLDER = {
    "",
    "anonymous",
    "unknown",
    "untitled",
    "unspecified",
    "none",
}  # PDF writers' defaults


@dataclass(frozen=True)
class Article:
    """One cleaned article. ``key`` identifies it across re-ingests (its resolved path)."""

    key: str
    source: str
    title: str
    published: str
    outlet: str
    text: str
    content_hash: str


def decode_bytes(raw: bytes, name: str) -> str:
    """Text of a file in UTF-8, UTF-16 (with BOM) or EUC-KR/CP949; binary is refused."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16")
    if b"\x00" in raw[:8192]:
        raise BadInput(
            f"{name}: looks binary (contains NUL bytes), skipped",
            "ingest only .txt/.md/.html text files or PDFs",
        )
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        if e.reason == "unexpected end of data" and e.start >= len(raw) - 3:
            return raw[: e.start].decode(
                "utf-8-sig"
            )  # cut off mid-character: keep all but the torn end
    try:
        return raw.decode("cp949")
    except UnicodeDecodeError:
        pass
    raise BadInput(
        f"{name}: not valid UTF-8, UTF-16 or EUC-KR/CP949 text, skipped",
        "re-save the file as UTF-8 (iconv -f ENCODING -t UTF-8)",
    )


def _normalise(text: str) -> str:
    """NFC, unified newlines and spaces, invisible characters removed."""
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    text = re.sub(r"[\u00a0\u2000-\u200a\u202f\u205f\u3000\t]", " ", text)
    text = re.sub(r"[\u200b-\u200d\u2060\ufeff\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", "", text)
    return text


def clean_lines(text: str, web: bool = False) -> tuple[list[str], str]:
    """Article lines with furniture and repeated blocks removed; also the byline outlet.

    ``web``: the text trafilatura took from a page, which has already dropped repeated blocks
    and keeps tables that belong to the article; only the furniture lines go (a Korean page's
    "무단 전재 및 재배포 금지" and bylines pass trafilatura)."""
    kept: list[str] = []
    seen: set[str] = set()
    outlet = ""
    for raw_line in text.split("\n"):
        line = re.sub(r" {2,}", " ", raw_line).strip()
        if not line:
            continue
        byline = BYLINE.search(line)
        if byline and not outlet:
            outlet = byline.group(1) or byline.group(2)
        short = len(line) <= 60
        if (
            line.lower() in FURNITURE
            or (TABLE_ROW.match(line) and not web)
            or (short and any(p.search(line) for p in FURNITURE_PATTERNS))
        ):
            continue
        fingerprint = re.sub(r"\W+", "", line).lower()
        if fingerprint in seen and not web:  # a repeated headline or a whole body pasted twice
            continue
        seen.add(fingerprint)
        kept.append(line)
    return kept, outlet


def _guess_title(lines: list[str]) -> str:
    first = lines[0] if lines else ""
    if first and len(first) <= 100 and not SENTENCE_END.search(first) and not DATE.match(first):
        return first.lstrip("# ").strip()
    return ""


def _iso_date(text: str) -> str:
    m = DATE.search(text or "")
    if not m:
        return ""
    year, month, day = (int(g) for g in m.groups())
    return f"{year:04d}-{month:02d}-{day:02d}" if 1 <= month <= 12 and 1 <= day <= 31 else ""


def read_metadata(folder: Path) -> dict[str, dict]:
    """The ``metadata.json`` beside the articles, or an empty mapping. Parsed once per
    version of the file, not once per article (a 1,000-article folder spent 2 s re-parsing it)."""
    path = folder / METADATA_FILE
    try:
        stat = path.stat()
    except OSError:
        return {}
    return _parse_metadata(path, stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=8)
def _parse_metadata(path: Path, mtime_ns: int, size: int) -> dict[str, dict]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise BadInput(
            f"{path}: unreadable metadata ({e})", "fix the JSON or remove the file"
        ) from None
    if not isinstance(data, dict):
        raise BadInput(
            f"{path}: metadata is not a JSON object",
            "map each file name to its title/published/outlet",
        )
    return {k: v for k, v in data.items() if isinstance(v, dict)}


@dataclass(frozen=True)
class Extraction:
    """What ingest takes from one file before keying and hashing it (``rag extract`` prints it)."""

    source: str
    title: str
    published: str
    outlet: str
    author: str
    text: str

    def article(self, key: str, source: str = "") -> Article:
        """The Article ingest indexes under ``key`` (its file's path, or its URL)."""
        meta = (self.title, self.published, self.outlet)
        hashed = content_hash(self.text, *meta)  # the same order as before: no re-index
        return Article(key, source or self.source, *meta, self.text, hashed)


def extract(raw: bytes, path: Path, meta: dict | None = None) -> Extraction:
    """The article in a file's bytes; ``meta`` (from metadata.json) wins over what the page says."""
    meta = meta or {}
    if raw.startswith(b"%PDF") or path.suffix.lower() == ".pdf":
        text, page = pdf_text(raw, path.name)
        web = False  # a PDF's running headers and footers repeat: the repeated lines go
    else:
        text, page = _page_text(decode_bytes(raw, path.name), path)
        web = bool(page)
    lines, byline_outlet = clean_lines(_normalise(text), web=web)
    if not lines:
        raise BadInput(
            f"{path.name}: no article text left after cleaning (empty or page furniture only), "
            "skipped",
            "check that the file holds the article body",
        )
    title = meta.get("title") or page.get("title") or _guess_title(lines) or path.stem
    published = meta.get("published") or _iso_date(page.get("date") or "")
    return Extraction(
        source=path.name,
        title=title.strip(),
        published=published,
        outlet=meta.get("outlet") or page.get("sitename") or byline_outlet,
        author=meta.get("author") or page.get("author") or "",
        text="\n".join(lines),
    )


def parse_article(raw: bytes, path: Path, meta: dict | None = None) -> Article:
    """Build an Article from a file's bytes; ``meta`` (from metadata.json) wins over guesses."""
    return extract(raw, path, meta).article(str(path.resolve()))


def _page_text(text: str, path: Path) -> tuple[str, dict[str, str]]:
    """A web page's article body and its title, date, author and site name, by trafilatura
    (htmldate finds the date); any other file's text as it is, with no page metadata.

    Precision is favoured: on the article-extraction benchmark's development pages it keeps out
    more menus and captions than it loses body text (``rag bench extraction``). Where it keeps
    only a short block and the plain reading finds more than twice as much, the plain one is
    taken: precision had kept a notice and lost the article."""
    looks_html = text.lstrip()[:15].lower().startswith(("<!doctype html", "<html"))
    if path.suffix.lower() not in (".html", ".htm") and not looks_html:
        return text, {}
    import trafilatura

    read = functools.partial(
        trafilatura.bare_extraction,
        text,
        include_comments=False,
        favor_precision=True,
        with_metadata=True,
    )
    doc = read()
    if doc is not None and len(doc.text or "") < SHORT_PAGE and read(no_fallback=True) is None:
        doc = None  # only the fallback extractors found text: a menu or a link list, no article
    if doc is None:
        return "", {"page": "yes"}
    doc = _unless_too_precise(doc, read)
    fields = {k: getattr(doc, k) or "" for k in ("title", "date", "author", "sitename")}
    return doc.text or "", {"page": "yes", **fields, **_unless_site_name(fields, text)}


# what separates a headline from the site's name in a page's <title>: "Headline - Site"
_TITLE_PARTS = re.compile(r"\s+[-|–—:·»]\s+|\s*::\s*")
# a link to the site's home page
_LINK_HOME = re.compile(r"(?:\.?/|index\.html?|https?://[^/]+/?)")


def _unless_site_name(fields: dict[str, str], html: str) -> dict[str, str]:
    """The title and site name to use instead of trafilatura's when its title is the site's
    name: the text of a link to the home page, as a logo heading (``<a href="/"><h1>``) is. Then
    the headline is the longest part of the page's ``<title>`` ("Headline - Site"), and the
    link's text is the site's name if the page gave none. Otherwise nothing."""
    import lxml.html

    title = fields["title"].strip()
    if not title:
        return {}
    try:
        tree = lxml.html.fromstring(html)
    except (ValueError, lxml.etree.ParserError):
        return {}
    links_home = (
        " ".join(a.text_content().split())
        for a in tree.iter("a")
        if _LINK_HOME.fullmatch((a.get("href") or "").strip())
    )
    if title not in links_home:
        return {}
    parts = [p.strip() for p in _TITLE_PARTS.split(tree.findtext(".//title") or "")]
    headline = max(parts, key=len, default="")
    if not headline or headline == title:
        return {}
    return {"title": headline, "sitename": fields["sitename"] or title}


def _unless_too_precise(doc, read):
    """The precise reading, or the plain one where the precise one is short and the plain one
    more than twice as long: precision kept one block (a reprint notice), not the body."""
    if len(doc.text or "") >= SHORT_PRECISE:
        return doc
    plain = read(favor_precision=False)
    if plain is not None and len(plain.text or "") > 2 * len(doc.text or ""):
        return plain
    return doc


def pdf_text(raw: bytes, name: str) -> tuple[str, dict[str, str]]:
    """A PDF's text, one paragraph per line, and its title, creation date and author, read by
    PDFium (pypdfium2: Chromium's PDF engine, which maps Korean fonts to text whether they are
    embedded or not). A PDF gives lines as laid out on the page: a line about as long as the
    page's longer lines wrapped and goes on in the next (joined with a space, as Korean and
    English wrap at spaces); a shorter one, or one that ends a sentence, ends its paragraph.
    Lone page numbers are dropped."""
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(raw)
    except pdfium.PdfiumError as e:
        if "password" in str(e).lower():
            raise BadInput(
                f"{name}: the PDF needs a password, skipped",
                "save a copy without the password and add that",
            ) from None
        raise BadInput(
            f"{name}: not a readable PDF ({e}), skipped",
            "open it in a PDF viewer and save it again",
        ) from None
    try:
        if len(pdf) > PDF_MAX_PAGES:
            raise BadInput(
                f"{name}: {len(pdf)} pages is over the {PDF_MAX_PAGES}-page limit for one "
                "article, skipped",
                "split it into one file per article",
            )
        pages = [_pdf_paragraphs(page.get_textpage().get_text_bounded()) for page in pdf]
        info = pdf.get_metadata_dict()
    finally:
        pdf.close()
    text = "\n".join(p for paragraphs in pages for p in paragraphs)
    if not text.strip():
        raise BadInput(
            f"{name}: the PDF has no text to read (a scan?), skipped",
            "run OCR on it first (e.g. ocrmypdf -l kor+eng) and add the result",
        )
    created = re.match(r"D:(\d{4})(\d\d)(\d\d)", info.get("CreationDate", ""))
    fields = {
        "title": info.get("Title", ""),
        "date": "-".join(created.groups()) if created else "",
        "author": info.get("Author", ""),
    }
    return text, {k: v for k, v in fields.items() if v.strip().lower() not in PLACEHOLDER}


def _pdf_paragraphs(page: str) -> list[str]:
    """One page's laid-out lines joined into paragraphs (see ``pdf_text``)."""
    lines = [line.strip() for line in re.split(r"\r?\n|\r", page)]
    lines = [line for line in lines if line and not PAGE_NUMBER.match(line)]
    lengths = sorted(len(line) for line in lines)
    full = lengths[int(len(lengths) * 0.9)] if lengths else 0  # the page's longer lines
    paragraphs: list[str] = []
    wrapped = False
    for line in lines:
        if wrapped:
            paragraphs[-1] += " " + line
        else:
            paragraphs.append(line)
        wrapped = len(line) >= WRAPPED * full and not SENTENCE_END.search(line)
    return paragraphs


def content_hash(*parts: str) -> str:
    """What tells a changed article from an unchanged one: its text and metadata, and the
    cleaner's version (a cleaner that would read the file differently re-indexes it)."""
    digest = hashlib.sha256()
    for part in (str(CLEANER_VERSION), *parts):
        digest.update(part.encode("utf-8") + b"\x00")
    return digest.hexdigest()


def _read_bytes(path: Path, max_bytes: int) -> bytes:
    """A file's bytes, bounded; every failure is a BadInput naming the file and the fix."""
    too_big = lambda size: BadInput(  # noqa: E731
        f"{path.name}: {size / 2**20:.1f} MB is over the {max_bytes / 2**20:.0f} MB limit for one "
        "article, skipped",
        "split it into one file per article",
    )
    try:
        if path.stat().st_size > max_bytes:
            raise too_big(path.stat().st_size)
        with open(path, "rb") as f:
            raw = f.read(max_bytes + 1)  # bounded even if the file grows while we read it
    except FileNotFoundError:
        raise BadInput(
            f"{path}: disappeared before it could be read, skipped",
            "run the ingest again once the file is in place",
        ) from None
    except IsADirectoryError:
        raise BadInput(f"{path}: is a folder", "name the article files in it") from None
    except OSError as e:
        raise BadInput(f"{path}: cannot read ({e.strerror})", "check its permissions") from None
    if len(raw) > max_bytes:
        raise too_big(len(raw))
    if not raw.strip():
        raise BadInput(f"{path.name}: empty file, skipped", "remove it or add the article text")
    return raw


def read_article(path: Path, max_bytes: int = MAX_FILE_BYTES) -> Article:
    """Read one article file as ingest indexes it."""
    raw = _read_bytes(path, max_bytes)
    return parse_article(raw, path, read_metadata(path.parent).get(path.name))


def read_extraction(path: Path, max_bytes: int = MAX_FILE_BYTES) -> Extraction:
    """What ingest would take from one file, author included (``rag extract``)."""
    raw = _read_bytes(path, max_bytes)
    return extract(raw, path, read_metadata(path.parent).get(path.name))


def find_article_files(paths: list[Path]) -> tuple[list[Path], list[tuple[str, str]]]:
    """Article files under ``paths`` (files or folders, recursively) and (path, reason) skips.

    Symbolic links that lead outside the folder being read are skipped, so a corpus
    folder cannot pull in arbitrary files."""
    found: list[Path] = []
    skipped: list[tuple[str, str]] = []
    for root in paths:
        if not root.exists():
            skipped.append((str(root), "does not exist"))
        elif root.is_file():
            found.append(root)
        else:
            base = root.resolve()
            for p in sorted(root.rglob("*")):
                if not p.is_file() or p.name.startswith(".") or p.name == METADATA_FILE:
                    continue
                if p.suffix.lower() not in SUFFIXES:
                    skipped.append((str(p), f"not a {'/'.join(SUFFIXES)} file"))
                elif not p.resolve().is_relative_to(base):
                    skipped.append((str(p), "a link to a file outside the folder"))
                else:
                    found.append(p)
    return found, skipped
