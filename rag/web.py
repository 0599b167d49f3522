"""The web chat (Chainlit), a thin front over ``rag.answering.ask``: ``rag web`` runs this file.

Each answer streams in; every ``[n]`` is a link that opens the cited article in the side
panel, whole, with the quoted sentence in bold, its relative dates resolved, and a link to
the original when it came from the web. Abstentions say so and list the closest passages as
related reading. With an LLM backend a sentence is shown only after the citation checker has
passed it (``answering.verified``).

Articles can be added in the chat: attach files or paste URLs (``rag.uploads`` checks and
ingests them). Conversations and ratings are kept by Chainlit's SQLAlchemy data layer
(``rag.history``): past chats are listed and resumable, every answer has thumbs up/down with
a comment, and `rag feedback export` turns ratings into evaluation cases. Starters come from
the index (``rag.starters``). Interface text follows the browser's language (Korean or
English); answers follow the question's. Heavy work runs in a worker thread, so one person's
question never blocks another's chat. Article text is always shown as text, never as HTML.
"""

from __future__ import annotations

import asyncio
import html
import json
import os
import re
import threading
from pathlib import Path

import chainlit as cl
from chainlit.input_widget import Select, Slider, TextInput

from rag.dates import annotate, resolve
from rag.errors import RagError
from rag.retrieve import Filters
from rag.settings import load_settings

TURNS_KEPT = 6  # question–answer pairs a chat keeps whole: follow-ups, source panels
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~])")
TEXT = {
    "ko": {
        "top_k": "인용할 문단 수 (top-k)",
        "from": "이 날짜부터의 기사 (YYYY-MM-DD)",
        "until": "이 날짜까지의 기사 (YYYY-MM-DD)",
        "backend": "답을 쓰는 방식",
        "adding": "기사 {n}건을 추가하는 중입니다…",
        "failed": "오류가 발생했습니다",
        "no_outlet": "매체 미상",
        "no_date": "날짜 미상",
        "also": "같은 기사:",
        "original": "원문 보기",
        "related": "관련 기사 (답은 아닙니다)",
    },
    "en": {
        "top_k": "Passages to cite (top-k)",
        "from": "Articles from (YYYY-MM-DD)",
        "until": "Articles until (YYYY-MM-DD)",
        "backend": "Answer backend",
        "adding": "Adding {n} article(s)…",
        "failed": "Something went wrong",
        "no_outlet": "outlet unknown",
        "no_date": "date unknown",
        "also": "Also in",
        "original": "Original page",
        "related": "Related reading (not the answer)",
    },
}


def _words(language: str) -> dict:
    return TEXT[language if language in TEXT else "ko"]


def _error_text(e: RagError) -> str:
    return f"⚠️ {as_text(e.message)}" + (f"\n\n{as_text(e.hint)}" if e.hint else "")


def as_text(text: str) -> str:
    """Article or user text made inert for the markdown renderer: no HTML, no markup."""
    return _MD_SPECIAL.sub(r"\\\1", html.escape(text, quote=False))


def ui_language() -> str:
    """'ko' for a browser that prefers Korean, else 'en'."""
    try:
        language = cl.context.session.language or ""
    except Exception:  # noqa: BLE001 - outside a session (tests, start-up)
        language = ""
    return "ko" if language.lower().startswith("ko") else "en"


def _user() -> str:
    user = cl.user_session.get("user")
    return getattr(user, "identifier", None) or "local"


def _settings():
    from rag.uploads import question_settings

    overrides = cl.user_session.get("overrides") or {}
    base = load_settings({k: v for k, v in overrides.items() if k in ("top_k", "backend")})
    return question_settings(base, _user())


def _filters() -> Filters:
    o = cl.user_session.get("overrides") or {}
    return Filters(
        date_from=(o.get("date_from") or "").strip(), date_to=(o.get("date_to") or "").strip()
    )


def _article_text(c, article) -> tuple[str, str]:
    """The panel's text (the whole article when the index has it, else the passage) with its
    dates resolved, and the quote as it appears in that text."""
    quote = annotate(c.text, list(c.dates), c.start)  # "21일(2022-05-21)"
    if article is None:
        return quote, quote
    return annotate(article.text, resolve(article.text, article.published)), quote


def _citation_panel(answer, c, marker: str, article=None):
    """The side panel of citation ``c``: its article's header and text, the quote in bold."""
    words = _words(answer.language)
    text, quote = _article_text(c, article)
    highlighted = (
        as_text(text).replace(as_text(quote), f"**{as_text(quote)}**", 1)
        if quote in text
        else as_text(text)
    )
    where = (
        f"{as_text(c.outlet or words['no_outlet'])} · {as_text(c.published or words['no_date'])}"
    )
    header = f"**{as_text(c.title)}**  \n{where} · {as_text(c.source)}"
    if c.source.startswith(("http://", "https://")):
        header += f"  \n[{words['original']}]({c.source.replace(')', '%29').replace(' ', '%20')})"
    if c.also_in:
        header += f"  \n{words['also']} {as_text(', '.join(c.also_in))}"
    lead = f"> {as_text(quote.replace(chr(10), ' '))}\n\n---\n\n" if article else ""  # no scrolling
    return cl.Text(name=marker, content=f"{header}\n\n{lead}{highlighted}", display="side")


def render_answer(answer, articles: dict | None = None) -> tuple[str, list]:
    """Markdown for the answer (markers as links) and the side-panel elements they open;
    ``articles`` maps a citation's chunk id to its whole article."""
    body = as_text(answer.answer)
    if answer.short_answer:  # the one piece of markup an answer carries: its short answer in bold
        short = as_text(answer.short_answer)
        body = body.replace(as_text(f"**{answer.short_answer}**"), f"**{short}**")
        # markdown cannot close bold between punctuation and a letter ("**3.5%**로"): plain there
        if not answer.short_answer[-1].isalnum():
            body = re.sub(rf"\*\*({re.escape(short)})\*\*(?=\w)", r"\1", body)
    elements = []
    for c in answer.citations:
        marker = f"[{c.n}]"
        body = body.replace(as_text(marker), marker)  # Chainlit links an element's name to it
        elements.append(_citation_panel(answer, c, marker, (articles or {}).get(c.chunk_id)))
    if answer.abstained and answer.passages:
        words = _words(answer.language)
        related = "\n".join(
            f"- {as_text(p.title)} ({as_text(p.published or words['no_date'])}): "
            f"{as_text(p.text[:120])}…"
            for p in answer.passages[:3]
        )
        body += f"\n\n**{words['related']}**\n" + related
    for note in answer.notes:
        body += f"\n\n_{as_text(note)}_"
    return body, elements


def _articles_for(answer, settings) -> dict:
    """Each citation's whole article, by chunk id (read from the index in a worker thread)."""
    from rag.indexing import open_index
    from rag.retrieve import article_for

    index = open_index(settings)
    return {c.chunk_id: article_for(index, c.source, c.text) for c in answer.citations}


def _warm_up():
    """Load the model, Kiwi and the index once, and check the starters, in the background,
    before the first page and question."""
    from rag.answering.ask import warm_up
    from rag.starters import starters

    try:
        settings = load_settings()
        warm_up(settings)
        starters(settings)
    except Exception:
        pass  # the first page and question report any problem readably


threading.Thread(target=_warm_up, daemon=True).start()


def _keeps_history() -> bool:
    from rag.history import history_url

    return history_url(load_settings()) is not None


@cl.data_layer
def _history():
    from chainlit.config import APP_ROOT

    from rag.history import data_layer

    return data_layer(load_settings(), files=Path(APP_ROOT) / "public")


if os.environ.get("RAG_WEB_PASSWORD"):

    @cl.password_auth_callback
    def auth(username: str, password: str):
        import hmac

        if hmac.compare_digest(password, os.environ["RAG_WEB_PASSWORD"]):
            return cl.User(identifier=username or "user")
        return None

elif _keeps_history():

    @cl.header_auth_callback
    def local_user(headers):
        """No password set: everyone is the one local user (history needs a user to belong
        to). Set RAG_WEB_PASSWORD before serving beyond this machine."""
        return cl.User(identifier="local")


@cl.set_starters
async def starters(user=None, language: str | None = None):
    from rag.starters import starters as made_from_index

    try:
        pairs = await asyncio.to_thread(made_from_index, load_settings())
    except RagError:
        return []
    return [cl.Starter(label=label, message=message) for label, message in pairs]


def _release_old_messages() -> None:
    """Empty the answers among all but the last ``2 * TURNS_KEPT`` messages in Chainlit's chat
    context of their text, source panels (whole articles) and answer records, and questions of
    their attached files. Chainlit keeps every message of a chat in server memory (Chainlit issue
    #2951) and those were most of it, so a long chat grew the server steadily. A question keeps
    its text: it is small, and an edit of it may be under way while this runs (Chainlit's edit
    handler sets the text, then awaits, then answers it); the conversation itself is kept by the
    history."""
    messages = cl.chat_context.get()
    for old in messages[: max(0, len(messages) - 2 * TURNS_KEPT)]:
        old.elements = []
        if old.type != "user_message":
            old.content, old.metadata = "", {}


@cl.on_chat_end
async def end():
    """Free the chat's messages once Chainlit has dropped its session: it keeps a session for
    ``session_timeout`` seconds after a disconnect, so a reconnecting browser keeps its chat,
    but it never frees that session's chat context (Chainlit issue #2951)."""
    from chainlit.chat_context import chat_contexts
    from chainlit.config import config
    from chainlit.user_session import user_sessions

    session_id = cl.context.session.id

    async def free_when_dropped():
        await asyncio.sleep(config.project.session_timeout + 1)
        if session_id not in user_sessions:
            chat_contexts.pop(session_id, None)

    asyncio.ensure_future(free_when_dropped())


@cl.on_chat_start
async def start():
    cl.user_session.set("history", [])
    cl.user_session.set("overrides", {})
    await _settings_panel()


async def _settings_panel():
    words, base = TEXT[ui_language()], load_settings()
    await cl.ChatSettings(
        [
            Slider(id="top_k", label=words["top_k"], initial=base.top_k, min=1, max=10, step=1),
            TextInput(id="date_from", label=words["from"], initial=""),
            TextInput(id="date_to", label=words["until"], initial=""),
            Select(
                id="backend",
                label=words["backend"],
                values=["extractive", "openai", "ollama"],
                initial_value=base.backend,
            ),
        ]
    ).send()


@cl.on_chat_resume
async def resume(thread: dict):
    """A past conversation reopened: its questions and answers become the follow-up history."""
    history = []
    for step in thread.get("steps") or []:
        meta = step.get("metadata") or {}
        meta = json.loads(meta) if isinstance(meta, str) else meta
        if step.get("type") == "assistant_message" and meta.get("rag"):
            history.append((meta["rag"]["asked"], meta["rag"]["answer"]))
    cl.user_session.set("history", history[-TURNS_KEPT:])
    cl.user_session.set("overrides", {})
    await _settings_panel()


@cl.on_settings_update
async def settings_update(values):
    cl.user_session.set("overrides", {**values, "top_k": int(values.get("top_k") or 5)})


async def _add_articles(message: cl.Message) -> bool:
    """Ingest the message's attached files and pasted URLs; whether there were any."""
    from rag import uploads
    from rag.indexing import ingest

    files = [
        (e.name, e.path, os.path.getsize(e.path))
        for e in message.elements or []
        if getattr(e, "path", None) and os.path.exists(e.path)
    ]
    urls = uploads.pasted_urls(message.content)
    if not files and not urls:
        return False
    lang = ui_language()
    note = cl.Message(content=TEXT[lang]["adding"].format(n=len(files) + len(urls)))
    await note.send()
    try:
        settings, folder = uploads.places(load_settings(), _user())
        accepted, refused = uploads.check_files(files, settings)
        allowed, refused_urls = uploads.check_urls(urls, settings)
        sources = [str(p) for p in uploads.keep(accepted, folder)] + allowed
        report = (
            await asyncio.to_thread(ingest, sources, settings, False, True) if sources else None
        )
        note.content = as_text(uploads.summary(report, refused + refused_urls, lang))
    except RagError as e:
        note.content = _error_text(e)
    await note.update()
    return True


@cl.on_message
async def on_message(message: cl.Message):
    from rag.uploads import pasted_urls

    if await _add_articles(message) and (
        not message.content.strip() or pasted_urls(message.content)
    ):
        return  # only articles: nothing to answer
    await _answer(message.content)


async def _answer(question: str):
    from rag.answering import ask
    from rag.answering.answer import answer_json

    history = cl.user_session.get("history") or []
    reply = cl.Message(content="")
    loop = asyncio.get_running_loop()
    streamed = []

    def on_sentence(sentence: str):  # an LLM's sentence that has passed the citation checker
        streamed.append(sentence)
        piece = (" " if len(streamed) > 1 else "") + as_text(sentence)
        asyncio.run_coroutine_threadsafe(reply.stream_token(piece), loop)

    try:
        settings = _settings()
        answer = await asyncio.to_thread(ask, question, settings, history, _filters(), on_sentence)
        articles = await asyncio.to_thread(_articles_for, answer, settings)
    except RagError as e:
        await cl.Message(content=_error_text(e)).send()
        return
    except Exception as e:  # never a stack trace in the chat
        words = TEXT[ui_language()]
        await cl.Message(content=f"⚠️ {words['failed']}: {as_text(type(e).__name__)}").send()
        return
    body, elements = render_answer(answer, articles)
    if not streamed:  # the extractive answer is composed at once: stream it word by word
        for word in re.split(r"(\s+)", body):
            await reply.stream_token(word)
    asked = answer.timings.get("standalone_question", answer.question)
    record = {k: v for k, v in answer_json(answer).items() if k != "passages"}
    reply.content, reply.elements = body, elements  # the same sentences, markers made links
    reply.metadata = {"rag": record | {"asked": asked}}
    await reply.send()
    history.append((asked, answer.answer))
    cl.user_session.set("history", history[-TURNS_KEPT:])
    _release_old_messages()
