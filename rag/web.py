"""The web chat (Chainlit), a thin front over ``rag.answering.ask``: ``rag web`` runs this file.

Each answer streams in; every ``[n]`` is a link that opens the cited passage in the side
panel, with the quoted sentence highlighted and the article's title, outlet and date.
Abstentions say so and list the closest passages as related reading. Heavy work runs in
a worker thread, so one person's question never blocks another's chat; the model and
index are loaded once per process. Article text is always shown as text, never as HTML.
"""

from __future__ import annotations

import asyncio
import html
import os
import re
import threading

import chainlit as cl
from chainlit.input_widget import Select, Slider, TextInput

from rag.dates import annotate
from rag.errors import RagError
from rag.retrieve import Filters
from rag.settings import load_settings

STARTERS = [
    ("SCM 국방비", "한미는 한국 국방비를 GDP 대비 몇 퍼센트로 확대하는 데 공감했나?"),
    ("전작권 전환", "미래연합군사령부 완전운용능력 검증은 언제까지 추진하나?"),
    ("기술 번영 MOU", "한·미 기술 번영 양해각서는 언제 체결됐나?"),
    ("공급망 대화", "한미 공급망·산업 대화 양해각서에 서명한 한국 장관은 누구인가?"),
]
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~])")


def as_text(text: str) -> str:
    """Article or user text made inert for the markdown renderer: no HTML, no markup."""
    return _MD_SPECIAL.sub(r"\\\1", html.escape(text, quote=False))


def _settings():
    overrides = cl.user_session.get("overrides") or {}
    return load_settings({k: v for k, v in overrides.items() if k in ("top_k", "backend")})


def _filters() -> Filters:
    o = cl.user_session.get("overrides") or {}
    return Filters(
        date_from=(o.get("date_from") or "").strip(), date_to=(o.get("date_to") or "").strip()
    )


def _citation_panel(answer, c, marker: str):
    """The side panel of citation ``c``: its article's header and passage, the quote in bold."""
    passage = next((p for p in answer.passages if p.chunk_id == c.chunk_id), None)
    text = annotate(passage.text, list(passage.dates), passage.start) if passage else c.text
    quote = annotate(c.text, list(c.dates), c.start)  # "21일(2022-05-21)"
    highlighted = (
        as_text(text).replace(as_text(quote), f"**{as_text(quote)}**")
        if quote in text
        else as_text(text)
    )
    where = f"{as_text(c.outlet or '출처 미상')} · {as_text(c.published or '날짜 미상')}"
    header = f"**{as_text(c.title)}**  \n{where} · {as_text(c.source)}"
    if c.also_in:
        also = "같은 기사:" if answer.language == "ko" else "Also in"
        header += f"  \n{also} {as_text(', '.join(c.also_in))}"
    return cl.Text(name=marker, content=f"{header}\n\n{highlighted}", display="side")


def render_answer(answer) -> tuple[str, list]:
    """Markdown for the answer (markers as links) and the side-panel elements they open."""
    body = as_text(answer.answer)
    if answer.short_answer:  # the one piece of markup an answer carries: its short answer in bold
        body = body.replace(
            as_text(f"**{answer.short_answer}**"), f"**{as_text(answer.short_answer)}**"
        )
    elements = []
    for c in answer.citations:
        marker = f"[{c.n}]"
        body = body.replace(as_text(marker), marker)  # Chainlit links an element's name to it
        elements.append(_citation_panel(answer, c, marker))
    if answer.abstained and answer.passages:
        related = "\n".join(
            f"- {as_text(p.title)} ({as_text(p.published or '날짜 미상')}): "
            f"{as_text(p.text[:120])}…"
            for p in answer.passages[:3]
        )
        body += (
            "\n\n**관련 기사** (답은 아닙니다)\n"
            if answer.language == "ko"
            else "\n\n**Related reading** (not the answer)\n"
        ) + related
    for note in answer.notes:
        body += f"\n\n_{as_text(note)}_"
    return body, elements


def _warm_up():
    """Load the model, Kiwi and the index once, in the background, before the first question."""
    try:
        from rag.answering import ask

        ask("한미 동맹", load_settings())
    except Exception:
        pass  # the first real question reports any problem readably


threading.Thread(target=_warm_up, daemon=True).start()


@cl.set_starters
async def starters():
    return [cl.Starter(label=label, message=message) for label, message in STARTERS]


@cl.on_chat_start
async def start():
    cl.user_session.set("history", [])
    cl.user_session.set("overrides", {})
    base = load_settings()
    await cl.ChatSettings(
        [
            Slider(id="top_k", label="Passages (top-k)", initial=base.top_k, min=1, max=10, step=1),
            TextInput(id="date_from", label="Articles from (YYYY-MM-DD)", initial=""),
            TextInput(id="date_to", label="Articles until (YYYY-MM-DD)", initial=""),
            Select(
                id="backend",
                label="Answer backend",
                values=["extractive", "openai", "ollama"],
                initial_value=base.backend,
            ),
        ]
    ).send()


@cl.on_settings_update
async def settings_update(values):
    cl.user_session.set("overrides", {**values, "top_k": int(values.get("top_k") or 5)})


@cl.on_message
async def on_message(message: cl.Message):
    from rag.answering import ask

    history = cl.user_session.get("history") or []
    reply = cl.Message(content="")
    loop = asyncio.get_running_loop()

    streamed = []

    def on_token(token: str):  # called from the worker thread while an LLM streams
        streamed.append(token)
        asyncio.run_coroutine_threadsafe(reply.stream_token(as_text(token)), loop)

    try:
        settings = _settings()
        answer = await asyncio.to_thread(
            ask, message.content, settings, history, _filters(), on_token
        )
    except RagError as e:
        await cl.Message(
            content=f"⚠️ {as_text(e.message)}" + (f"\n\n{as_text(e.hint)}" if e.hint else "")
        ).send()
        return
    except Exception as e:  # never a stack trace in the chat
        await cl.Message(
            content=f"⚠️ 오류가 발생했습니다 / something went wrong: {as_text(type(e).__name__)}"
        ).send()
        return
    body, elements = render_answer(answer)
    if not streamed:  # the extractive answer is composed at once: stream it word by word
        for word in re.split(r"(\s+)", body):
            await reply.stream_token(word)
    reply.content = body  # the checked answer replaces whatever the LLM streamed
    reply.elements = elements
    await reply.send()
    history.append((answer.timings.get("standalone_question", answer.question), answer.answer))
    cl.user_session.set("history", history[-6:])


if os.environ.get("RAG_WEB_PASSWORD"):

    @cl.password_auth_callback
    def auth(username: str, password: str):
        import hmac

        if hmac.compare_digest(password, os.environ["RAG_WEB_PASSWORD"]):
            return cl.User(identifier=username or "user")
        return None
