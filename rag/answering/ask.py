"""A question → a cited Answer: the one function the CLI, the web chat and the evaluations call.

    ask(question, settings, history)   condense a follow-up, retrieve, compose, check, date

Every answer, extractive or written by an LLM, goes through the citation checker (``cite``);
an LLM answer with no supported sentence falls back to the extractive one.
"""

from __future__ import annotations

import re
import time
from dataclasses import replace

import numpy as np

from ..dates import question_window
from ..embeddings import get_embedder
from ..errors import RagError
from ..indexing import open_index
from ..keywords import keyword_tokens
from ..retrieve import Filters, check_query, search_index
from ..settings import Settings
from ..stores import Store, text_key
from . import cite
from .answer import ABSTAIN, Answer, Citation, date_basis, language_of
from .compose import compose
from .verified import VerifiedStream, shown


class IndexedSentences:
    """The embedder, except that sentences embedded at ingest are looked up in the index:
    the composer then runs the model only on the question (KorQuAD ask p50 204 → 55 ms)."""

    def __init__(self, embedder, index: Store):
        self.embedder, self.index = embedder, index

    @property
    def fingerprint(self) -> str:
        return getattr(self.embedder, "fingerprint", "")

    def embed_query(self, text: str) -> np.ndarray:
        return self.embedder.embed_query(text)

    def embed_passages(self, texts: list[str], progress=None) -> np.ndarray:
        keys = [text_key(t) for t in texts]
        table = self.index.sentence_vectors(keys)
        found = [table.get(k) for k in keys]
        missing = [t for t, v in zip(texts, found) if v is None]
        fresh = iter(self.embedder.embed_passages(missing) if missing else ())
        return (
            np.vstack([v if v is not None else next(fresh) for v in found])
            if texts
            else self.embedder.embed_passages([])
        )


FOLLOW_UP = re.compile(
    r"^(그럼|그러면|그게|그곳|그\s|이건|이거|저건|또|그리고|and |then |what about|how about)"
    r"|\b(it|that|they|them|this|there|he|she)\b|그건|그거|그것|거기|그때",
    re.I,
)


def condense(question: str, history: list[tuple[str, str]], settings: Settings) -> str:
    """A follow-up made standalone. With an LLM, the LLM rewrites it; without one, a
    question that refers back ("그럼 그건 언제야?", "what about it?") or has fewer than
    three content words is prefixed with the previous standalone question."""
    if not history:
        return question
    if settings.backend != "extractive":
        from .llm import condense as llm_condense

        try:
            return llm_condense(question, history, settings)
        except RagError:
            pass
    if FOLLOW_UP.search(question) or len(keyword_tokens([question])[0]) < 3:
        return f"{history[-1][0]} {question}"
    return question


def warm_up(settings: Settings) -> None:
    """Load what answering needs (the index, the query model, Kiwi, tiktoken) by answering one
    question, so that a person's first question does not wait for it. For a thread started
    while the person reads the page or types; an error is left to their first question to
    report readably."""
    try:
        ask("한미 동맹", settings)
    except Exception:
        pass


def ask(
    question: str,
    settings: Settings,
    history: list[tuple[str, str]] | None = None,
    filters=None,
    on_sentence=None,
) -> Answer:
    """Answer one question with cited sentences, or abstain. ``history`` is [(standalone question,
    answer)]. With an LLM, ``on_sentence`` gets each sentence of its answer as soon as the
    citation checker has passed it (``VerifiedStream``): those sentences are the answer kept."""
    timings = {}
    t = time.perf_counter()
    question = check_query(question, settings, "question")
    standalone = condense(question, history or [], settings)
    index = open_index(settings)
    embedder = get_embedder(settings)
    passages, window_note = _search_in_window(index, standalone, settings, filters)
    timings["retrieve_ms"] = round((time.perf_counter() - t) * 1000, 1)
    t = time.perf_counter()
    lang = language_of(question)
    extractive = compose(standalone, passages, settings, IndexedSentences(embedder, index))
    answer, notes = extractive, _extractive_notes(extractive)
    if settings.backend != "extractive" and passages:
        from .llm import generate

        try:
            gate = VerifiedStream(standalone, passages, settings, on_sentence)
            text = generate(question, passages, lang, settings, gate.feed)
            answer, notes = _checked_llm_answer(
                text, gate.finish(), passages, lang, settings, extractive
            )
        except RagError as e:
            notes = [f"{e.message}; {e.hint}" if e.hint else e.message]
    timings["answer_ms"] = round((time.perf_counter() - t) * 1000, 1)
    if standalone != question:
        timings["standalone_question"] = standalone
    answer = _framed(answer, lang)
    notes = ([window_note[lang == "en"]] if window_note else []) + notes
    return replace(
        answer, question=question, language=lang, notes=notes + answer.notes, timings=timings
    )


def _search_in_window(index, question: str, settings: Settings, filters):
    """Passages for the question, from the articles its time words ask for ("2022년에",
    "올해", "지난 3년") when it has some and no date filter was given; all articles when none
    of those match. Also the note saying which window was used (Korean, English)."""
    window = None if filters and filters.active() else question_window(question)
    if window is None:
        return search_index(index, question, settings, filters=filters), None
    within = Filters(date_from=window.date_from, date_to=window.date_to)
    span = f"{window.date_from} ~ {window.date_to}"
    passages = search_index(index, question, settings, filters=within)
    if passages:
        return passages, (
            f"질문의 '{window.words}'에 따라 {span}에 나온 기사에서 찾았습니다.",
            f"Searched articles published {span}, from '{window.words}' in the question.",
        )
    return search_index(index, question, settings), (
        f"{span}에 나온 기사가 없어 ('{window.words}') 모든 기사에서 찾았습니다.",
        f"No article was published {span} ('{window.words}'); searched them all.",
    )


def _extractive_notes(extractive: Answer) -> list[str]:
    """The same checker every backend's answer goes through, on the extractive answer."""
    if extractive.abstained:
        return []
    checks = cite.check(extractive.answer, [p.text for p in extractive.passages])
    return [
        f"extractive sentence failed the citation check ({c.reason})"
        for c in checks
        if not c.supported
    ]


def _framed(answer: Answer, lang: str) -> Answer:
    """The answer with how old its evidence is, or an abstention in the question's language."""
    if not answer.abstained:
        note = date_basis(answer.citations, lang)
        return replace(answer, answer=f"{answer.answer} {note}", date_note=note)
    if answer.answer.startswith(ABSTAIN[lang]):
        return answer
    explanation = answer.explanation if answer.language == lang else ""  # an LLM's, or a follow-up
    return replace(answer, answer=f"{ABSTAIN[lang]} {explanation}".strip())


def _checked_llm_answer(text, checks, passages, lang, settings, extractive):
    """Keep the LLM's supported sentences (``checks``, from ``VerifiedStream``; flag or drop the
    rest); none left → the extractive answer. A removed sentence is named by its reason only, so
    it is never shown."""
    if not text:
        return extractive, ["the LLM returned no text; showing the extractive answer"]
    if text.strip() == ABSTAIN[lang]:
        return replace(extractive, answer=ABSTAIN[lang], abstained=True, citations=[]), [
            "the LLM abstained"
        ]
    kept = [shown(c) for c in checks if c.supported or settings.unsupported == "flag"]
    removed = (
        "근거가 확인되지 않은 문장을 뺐습니다" if lang == "ko" else "removed unsupported sentence"
    )
    notes = [
        f"{removed} ({c.reason})"
        for c in checks
        if not c.supported and settings.unsupported != "flag"
    ]
    if not any(c.supported for c in checks):
        notes.append("no LLM sentence was supported by the passages; showing the extractive answer")
        return extractive, notes
    return replace(
        extractive,
        answer=" ".join(kept),
        abstained=False,
        citations=_cited(checks, passages),
        passages=passages,
    ), notes


def _cited(checks, passages) -> list[Citation]:
    """One citation per passage the supported sentences cite, in the order first cited."""
    numbers = dict.fromkeys(n for c in checks if c.supported for n in c.cited)
    return [Citation.of(n, p, p.text, p.start, p.end) for n in numbers if (p := passages[n - 1])]
