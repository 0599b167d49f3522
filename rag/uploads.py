"""Articles added from the web chat: attached files and pasted URLs, checked, kept, ingested.

    accepted, refused = check_files([(name, path, size)], settings)
    kept = keep(accepted, folder)          # copies under their own names; nothing overwritten
    report = ingest(kept + urls, settings)  # the same incremental ingest as `rag ingest`

Files are limited by type, size and count (``web_upload_*`` settings), each refusal with its
reason. They are copied into an uploads folder beside the index, so the article's source is
its file name; a later file of the same name with other content is kept beside it. What
ingest itself refuses (binary, a zip bomb, an empty page) is reported the same way as on the
CLI. A pasted URL must not name a private, loopback or link-local address unless
``web_private_urls = "allow"``: the chat server must not become a way into its own network.
With ``web_uploads = "per-user"`` each user gets a copy of the shared FAISS index.
"""

from __future__ import annotations

import ipaddress
import re
import shutil
import socket
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlsplit

from .errors import BadInput
from .settings import Settings

TYPES = {".txt", ".md", ".html", ".htm", ".pdf"}
URL = re.compile(r"https?://\S+")


def pasted_urls(text: str) -> list[str]:
    """The URLs of a message that is nothing but URLs (the way to add pages in the chat)."""
    urls = URL.findall(text or "")
    return urls if urls and not URL.sub("", text).strip() else []


def check_files(files: list[tuple[str, Path, int]], settings: Settings):
    """(accepted [(name, path)], refused [(name, reason)]) for attached (name, path, bytes)."""
    accepted, refused = [], []
    for i, (name, path, size) in enumerate(files):
        suffix = Path(name).suffix.lower()
        if i >= settings.web_upload_files:
            refused.append((name, f"more than {settings.web_upload_files} files in one message"))
        elif suffix not in TYPES:
            refused.append((name, f"not an article file ({', '.join(sorted(TYPES))})"))
        elif size > settings.web_upload_mb * 1024 * 1024:
            refused.append((name, f"larger than {settings.web_upload_mb:g} MB"))
        else:
            accepted.append((name, Path(path)))
    return accepted, refused


def keep(files: list[tuple[str, Path]], folder: Path) -> list[Path]:
    """Copy each file into ``folder`` under its own (sanitised) name; the copies' paths. A file
    of that name with other content is kept: the new one becomes "name-2.txt", so one person's
    upload never replaces another's article."""
    folder.mkdir(parents=True, exist_ok=True)
    kept = []
    for name, path in files:
        safe = Path(re.sub(r"[^\w.\-가-힣]+", "_", Path(name).name).strip("._") or "article.txt")
        target, n = folder / safe, 1
        while target.exists() and target.read_bytes() != Path(path).read_bytes():
            n += 1
            target = folder / f"{safe.stem}-{n}{safe.suffix}"
        shutil.copyfile(path, target)
        kept.append(target)
    return kept


def private_address(url: str) -> str:
    """Why ``url`` may not be fetched from the chat ('' when it may): a host that resolves to
    a private, loopback, link-local or reserved address."""
    host = urlsplit(url).hostname or ""
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except (socket.gaierror, UnicodeError):
        return ""  # unresolvable: the fetcher reports it
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%")[0])
        if ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_reserved:
            return f"{host} is a private or local address ({ip})"
    return ""


def check_urls(urls: list[str], settings: Settings):
    """(allowed, refused [(url, reason)]) under ``web_private_urls``."""
    if settings.web_private_urls == "allow":
        return urls, []
    allowed, refused = [], []
    for url in urls:
        reason = private_address(url)
        if reason:
            refused.append((url, reason + "; an admin can set web_private_urls = 'allow'"))
        else:
            allowed.append(url)
    return allowed, refused


def _home(settings: Settings, user: str) -> Path:
    """A user's own folder beside the index (their name made safe: no dots, no separators)."""
    index = Path(settings.index_dir)
    return index.parent / f"{index.name}-users" / (re.sub(r"[^\w-]+", "_", user) or "_")


def places(settings: Settings, user: str) -> tuple[Settings, Path]:
    """The settings whose index a user's uploads go into, and the folder their files go in."""
    index = Path(settings.index_dir)
    if settings.web_uploads == "off":
        raise BadInput("adding articles in the chat is off", "an admin can set web_uploads")
    if settings.web_uploads != "per-user":
        return settings, index.parent / f"{index.name}-uploads"
    if settings.store != "faiss":
        raise BadInput(
            "per-user indexes need the FAISS store", "set web_uploads = 'shared' or store = 'faiss'"
        )
    own = _home(settings, user) / "index"
    if not own.exists() and index.exists():
        shutil.copytree(index, own, ignore=shutil.ignore_patterns(".lock"))
    return replace(settings, index_dir=own), _home(settings, user) / "uploads"


def question_settings(settings: Settings, user: str) -> Settings:
    """The settings a user's questions are answered with: their own index once they have one."""
    if settings.web_uploads == "per-user" and settings.store == "faiss":
        own = _home(settings, user) / "index"
        if own.exists():
            return replace(settings, index_dir=own)
    return settings


SUMMARY = {
    "ko": (
        "기사 {n}건을 추가했습니다 (새 기사 {added}, 바뀐 기사 {changed}, 그대로 {same}).",
        "추가하지 못한 것:",
        "이제 이 기사들에 대해 물어볼 수 있습니다.",
    ),
    "en": (
        "Added {n} articles (new {added}, changed {changed}, unchanged {same}).",
        "Not added:",
        "You can ask about them now.",
    ),
}


def summary(report, refused: list[tuple[str, str]], language: str) -> str:
    """What an upload did (``report``: the ingest's, None when nothing was ingested), in the
    interface's language: counts, then each refusal's reason."""
    from .indexing import IngestReport

    report = report or IngestReport()
    done, skipped, ready = SUMMARY[language]
    added, changed, same = len(report.added), len(report.changed), len(report.unchanged)
    lines = [done.format(n=added + changed + same, added=added, changed=changed, same=same)]
    problems = list(refused) + [
        (Path(p).name if "://" not in p else p, why) for p, why in report.skipped
    ]
    if problems:
        lines.append(skipped)
        lines += [f"- {name}: {why}" for name, why in problems]
    if added or changed:
        lines.append(ready)
    return "\n".join(lines)
