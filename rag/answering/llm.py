"""LLM answer backends through LangChain chat models: any OpenAI-compatible endpoint, or Ollama.

The LLM sees numbered passages (as data) and must cite them; whatever it writes is then
checked sentence by sentence by ``cite`` like any other answer. The API key is read
from the environment variable the settings name, and is never printed.
"""

from __future__ import annotations

import os

from ..errors import BackendUnavailable, RagError
from ..retrieve import Passage
from .answer import ABSTAIN
from .prompts import render

LANGUAGE = {"ko": "Korean", "en": "English"}


def chat_model(settings):
    """The LangChain chat model for ``settings.backend``."""
    if settings.backend == "openai":
        from langchain_openai import ChatOpenAI

        key = os.environ.get(settings.llm_api_key_env) or "not-needed"
        # The length limit goes as "max_tokens": langchain-openai would send only
        # "max_completion_tokens", which llama.cpp's and other compatible servers ignore.
        return ChatOpenAI(
            base_url=settings.llm_base_url,
            model=settings.llm_model,
            api_key=key,
            timeout=settings.llm_timeout,
            max_retries=0,
            temperature=0,
            extra_body={"max_tokens": settings.llm_max_tokens},
        )
    if settings.backend == "ollama":
        from langchain_ollama import ChatOllama

        return ChatOllama(
            base_url=settings.llm_base_url,
            model=settings.llm_model,
            temperature=0,
            num_predict=settings.llm_max_tokens,
            client_kwargs={"timeout": settings.llm_timeout},
        )
    raise RagError(
        f"unknown answer backend {settings.backend!r}", "use extractive, openai or ollama"
    )


def numbered(passages: list[Passage]) -> str:
    return "\n\n".join(
        f"[{i}] ({p.outlet or 'unknown outlet'}, {p.published or 'date unknown'}) {p.title}\n"
        f"<passage>\n{p.text}\n</passage>"
        for i, p in enumerate(passages, 1)
    )


def generate(question: str, passages: list[Passage], language: str, settings, on_token=None) -> str:
    """Stream an answer from the LLM; endpoint failures become BackendUnavailable."""
    from langchain_core.messages import HumanMessage, SystemMessage

    system = render("system.txt", abstain=ABSTAIN[language], language=LANGUAGE[language])
    prompt = render(
        "answer.txt", passages=numbered(passages), question=question, language=LANGUAGE[language]
    )
    text, finished = "", False
    try:
        for chunk in chat_model(settings).stream([SystemMessage(system), HumanMessage(prompt)]):
            piece = chunk.content if isinstance(chunk.content, str) else ""
            text += piece
            meta = chunk.response_metadata or {}
            finished = finished or bool(
                meta.get("finish_reason") or meta.get("done_reason") or meta.get("done")
            )
            if on_token and piece:
                on_token(piece)
        if not finished:  # the connection closed without the end-of-answer marker
            raise ConnectionError("the stream ended before the answer was complete")
    except RagError:
        raise
    except (
        Exception
    ) as e:  # connection refused, timeout, bad or cut-off response: all mean "no LLM answer"
        raise BackendUnavailable(
            f"the {settings.backend} endpoint at {settings.llm_base_url} failed "
            f"({type(e).__name__}: {str(e)[:160]})",
            "check that the server is running; showing the extractive answer instead",
        ) from None
    return text.strip()


def condense(question: str, history: list[tuple[str, str]], settings) -> str:
    """A standalone question from the conversation, written by the LLM."""
    from langchain_core.messages import HumanMessage

    turns = "\n".join(f"User: {q}\nAssistant: {a}" for q, a in history[-3:])
    try:
        reply = chat_model(settings).invoke(
            [HumanMessage(render("condense.txt", history=turns, question=question))]
        )
    except Exception as e:
        raise BackendUnavailable(
            f"the {settings.backend} endpoint failed ({type(e).__name__})", ""
        ) from None
    text = reply.content.strip() if isinstance(reply.content, str) else ""
    return text.splitlines()[0] if text else question
