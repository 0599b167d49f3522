"""The ``rag`` command: a thin front over the library (``rag.indexing``, ``rag.retrieve``,
``rag.answering``, ``rag.eval``, ``rag.bench``).

Errors the user can act on (``RagError``) print as one message with what to do, and
exit 2; nothing the user did wrong prints a stack trace.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import threading
import time
from dataclasses import asdict
from pathlib import Path

from .errors import BadInput, RagError
from .kiwi import load_in_helper
from .settings import load_settings


def _settings(args, **extra):
    overrides = {
        "index_dir": getattr(args, "index", None),
        "top_k": getattr(args, "k", None),
        "backend": getattr(args, "backend", None),
        "store": getattr(args, "store", None),
        "store_url": getattr(args, "store_url", None),
        "store_collection": getattr(args, "collection", None),
        **extra,
    }
    return load_settings(overrides)


def _filters(args):
    from .retrieve import Filters

    return Filters(
        tuple(args.source or ()), tuple(args.outlet or ()), args.since or "", args.until or ""
    )


def _lines(path: str) -> list[str]:
    stream = sys.stdin if path == "-" else open(path, encoding="utf-8")
    with stream:
        return [line.rstrip("\n") for line in stream if line.strip()]


def cmd_ingest(args) -> int:
    from .indexing import ingest

    settings = _settings(args)
    sources = args.paths or [Path(settings.seeds_dir)]  # URLs stay strings: Path drops a "/"
    report = ingest(sources, settings, rebuild=args.rebuild, quiet=args.quiet)
    print(report.summary())
    return 0


def _seconds(text: str) -> float:
    """'30m', '1h', '90s' or a plain number of seconds."""
    units = {"s": 1, "m": 60, "h": 3600}
    try:
        return float(text[:-1]) * units[text[-1]] if text[-1:] in units else float(text)
    except ValueError:
        raise BadInput(f"--every {text!r} is not a duration", "use e.g. 30m, 1h or 90s") from None


def cmd_watch(args) -> int:
    """Ingest the URLs (feeds, sitemaps, pages) again and again: only what changed is fetched."""
    from .indexing import ingest

    settings, every = _settings(args), _seconds(args.every)
    rounds = 0
    try:
        while True:
            report = ingest(list(args.urls), settings, quiet=True)
            print(time.strftime("%Y-%m-%d %H:%M:%S"), report.summary(), flush=True)
            rounds += 1
            if args.rounds and rounds >= args.rounds:
                return 0
            time.sleep(every)
    except KeyboardInterrupt:
        print("stopped", file=sys.stderr)
        return 0


def cmd_extract(args) -> int:
    """What ingest would index from each file: its metadata and cleaned text."""
    from dataclasses import asdict

    from .articles import read_extraction

    failed = 0
    for name in args.files:
        try:
            e = read_extraction(Path(name))
        except BadInput as err:
            print(f"error: {err}", file=sys.stderr)
            failed += 1
            continue
        if args.json:
            print(json.dumps(asdict(e), ensure_ascii=False))
            continue
        print(f"source:    {e.source}\ntitle:     {e.title}\npublished: {e.published or '?'}")
        print(f"outlet:    {e.outlet or '?'}\nauthor:    {e.author or '?'}\n")
        print(e.text + "\n")
    return 2 if failed else 0


def _passage_json(p) -> dict:
    return asdict(p)


def cmd_search(args) -> int:
    if not args.queries and args.query is not None and args.mode != "dense":
        load_in_helper()  # Kiwi loads on the other core while this process loads the rest
    from .retrieve import search

    settings = _settings(args)
    queries = _lines(args.queries) if args.queries else [args.query]
    if not args.queries and args.query is None:
        raise RagError("no query given", 'rag search "QUERY" or rag search --queries FILE')
    for query in queries:
        started = time.perf_counter()
        try:
            hits = search(query, settings, filters=_filters(args), mode=args.mode)
        except RagError as e:
            if not args.queries:
                raise
            print(
                json.dumps(
                    {"query": query, "error": e.message, "hint": e.hint}, ensure_ascii=False
                ),
                flush=True,
            )
            continue
        ms = (time.perf_counter() - started) * 1000
        if args.json:
            print(
                json.dumps(
                    {
                        "query": query,
                        "passages": [_passage_json(p) for p in hits],
                        "timings": {"search_ms": round(ms, 1)},
                    },
                    ensure_ascii=False,
                ),
                flush=True,
            )
            continue
        if not hits:
            print("No passages found.")
        for p in hits:
            print(
                f"[{p.rank}] {p.title} · {p.outlet or '?'} · {p.published or 'date unknown'}  "
                f"({p.source}, {p.chunk_id})"
            )
            print(f"    fused {p.fused:.3f}  dense {p.dense:.3f}  keyword {p.keyword:.2f}")
            print("    " + p.text.replace("\n", "\n    "))
            print()
    return 0


def cmd_bench(args) -> int:
    from .eval.korquad import KORQUAD_FILE

    settings = _settings(args)
    korquad = Path(args.korquad or KORQUAD_FILE)
    if args.what == "api":
        from .bench import apiload

        result = apiload.bench(settings, args.clients, args.seconds, args.url)
        print(apiload.format_result(result))
        return _written(result, args.out)
    if args.what not in ("web", "extraction", "dates") and not korquad.is_file():
        raise BadInput(
            f"the KorQuAD dev set is not at {korquad}", "pass --korquad PATH/KorQuAD_v1.0_dev.json"
        )
    if args.what == "perf":
        from .bench import perf

        result = perf.run(settings, korquad, small=args.small, large=args.large)
        print(perf.format_table(result))
    elif args.what == "stores":
        from .bench.stores import format_stores, run_stores

        urls = {"pgvector": args.pg_url or "", "milvus": args.milvus_url or ""}
        stores = {name: urls.get(name, "") for name in args.stores.split(",")}
        result = run_stores(settings, korquad, args.articles, args.questions, stores)
        print(format_stores(result))
    elif args.what == "archive":
        from .bench import archive

        result = archive.archive_ingest(settings, korquad, args.articles or 20_000, _progress)
        print(archive.format_archive(result))
        if not result["resumed_where_it_stopped"]:
            _written(result, args.out)
            raise RagError("the resumed ingest did not go on where the killed one stopped")
    elif args.what == "dates":
        from .bench import dates

        result = dates.run()
        print(dates.format_table(result))
    elif args.what == "extraction":
        from .bench import extraction

        result = extraction.run(args.articles)
        print(extraction.format_table(result))
    elif args.what == "answers":
        from .bench import answers

        result = answers.run(settings, args.articles)
        print(answers.format_table(result))
    elif args.what == "web":
        from .bench import webload

        with contextlib.ExitStack() as stack:
            llm = (
                {"RAG_BACKEND": "openai", "RAG_LLM_BASE_URL": args.llm_url} if args.llm_url else {}
            )
            # rounds: the server lets a chat go soon after it ends, so each round starts clean
            session = {"RAG_WEB_SESSION_SECONDS": str(webload.ROUND_SESSION_SECONDS)}
            env = llm | (session if args.rounds > 1 else {})
            url, pid = (
                (args.url, None)
                if args.url
                else stack.enter_context(webload.serve(settings.index_dir, env=env))
            )
            result = webload.run(url, args.chats, args.seconds, pid, rounds=args.rounds)
        print(webload.format_result(result))
    else:
        from .bench.retrieval import format_table, run_retrieval

        result = run_retrieval(settings, korquad, args.articles, baseline=not args.no_baseline)
        print(format_table(result))
    return _written(result, args.out)


def _progress(*parts) -> None:
    print(*parts, file=sys.stderr, flush=True)


def _written(result: dict, out: str | None) -> int:
    """Write a benchmark's figures to ``out`` as JSON, when asked."""
    if out:
        Path(out).write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
        print(f"wrote {out}")
    return 0


def print_answer(answer) -> None:
    from .dates import annotate

    print(answer.answer)
    for note in answer.notes:
        print(f"  note: {note}")
    if answer.citations:
        print()
    for c in answer.citations:
        print(
            f"[{c.n}] {c.title} · {c.outlet or '?'} · {c.published or 'date unknown'} "
            f"({c.source}, {c.chunk_id})"
        )
        if c.also_in:
            also = "also in" if answer.language == "en" else "같은 기사:"
            print(f"    ({also} {', '.join(c.also_in)})")
        print(f"    “{annotate(c.text, list(c.dates), c.start)}”")
    if answer.abstained and answer.passages:
        print(
            "\nRelated reading (not the answer):"
            if answer.language == "en"
            else "\n관련 기사 (답은 아닙니다):"
        )
        for p in answer.passages[:3]:
            print(f"  - {p.title} · {p.published or 'date unknown'}: {p.text[:80]}…")


def cmd_ask(args) -> int:
    if not args.questions and args.question is not None:
        load_in_helper()  # Kiwi loads on the other core while this process loads the rest
    from .answering import ask
    from .answering.answer import answer_json

    settings = _settings(args)
    if args.questions:
        for question in _lines(args.questions):
            try:
                print(
                    json.dumps(
                        answer_json(ask(question, settings, filters=_filters(args))),
                        ensure_ascii=False,
                    ),
                    flush=True,
                )
            except RagError as e:
                print(
                    json.dumps(
                        {"question": question, "error": e.message, "hint": e.hint},
                        ensure_ascii=False,
                    ),
                    flush=True,
                )
        return 0
    if args.question is None:
        raise RagError("no question given", 'rag ask "QUESTION" or rag ask --questions FILE')
    stream = (
        None
        if args.json or settings.backend == "extractive"
        else (lambda sentence: print(sentence, end=" ", file=sys.stderr, flush=True))
    )  # an LLM's sentences as the checker passes them
    answer = ask(args.question, settings, filters=_filters(args), on_sentence=stream)
    if stream:
        print(file=sys.stderr)
    if args.json:
        print(json.dumps(answer_json(answer), ensure_ascii=False))
    else:
        print_answer(answer)
    return 0


def cmd_chat(args) -> int:
    from .answering import ask
    from .answering.ask import warm_up

    settings = _settings(args)
    warming = threading.Thread(target=warm_up, args=(settings,), daemon=True)
    warming.start()  # loads while the person types; the first question waits for it to end
    history: list[tuple[str, str]] = []
    last = None
    print(
        "Ask about the articles. /sources shows the last answer's passages, /reset starts over, "
        "/quit leaves."
    )
    while True:
        try:
            line = input("> ").strip()
        except EOFError:
            print()
            return 0
        if not line:
            continue
        if line in ("/quit", "/exit"):
            return 0
        if line == "/reset":
            history, last = [], None
            print("(conversation reset)")
            continue
        if line == "/sources":
            for i, p in enumerate(last.passages if last else [], 1):
                print(
                    f"[{i}] {p.title} · {p.published or 'date unknown'} ({p.source}, "
                    f"{p.chunk_id})\n    {p.text}"
                )
            continue
        warming.join()
        try:
            last = ask(line, settings, history=history, filters=_filters(args))
        except RagError as e:
            print(f"error: {e}")
            continue
        print_answer(last)
        history.append((last.timings.get("standalone_question", line), last.answer))


def cmd_web(args) -> int:
    """Start the Chainlit chat, ingesting the seeds first if there is no index yet."""
    from .indexing import has_index, ingest

    settings = _settings(args)
    if not has_index(settings):
        print(f"No index yet; ingesting {settings.seeds_dir} first …", file=sys.stderr)
        print(ingest([Path(settings.seeds_dir)], settings).summary(), file=sys.stderr)
    env = {
        **os.environ,
        **web_state(settings),
        "RAG_INDEX_DIR": str(settings.index_dir),
        "RAG_STORE": settings.store,
        "RAG_STORE_URL": settings.store_url,
        "RAG_STORE_COLLECTION": settings.store_collection,
    }
    app = Path(__file__).with_name("web.py")
    print(f"Web chat on http://{args.host}:{args.port}", file=sys.stderr, flush=True)
    cmd = [
        sys.executable,
        "-m",
        "chainlit",
        "run",
        str(app),
        "--headless",
        "--host",
        args.host,
        "--port",
        str(args.port),
    ]
    sys.stdout.flush()
    os.execve(
        sys.executable, cmd, env
    )  # become the server: a stop signal to `rag web` reaches it, no orphan


def web_state(settings) -> dict:
    """The chat's state folder beside the index (<index>-web: Chainlit's configuration with the
    upload limits, its readme, uploaded files, the sign-in secret), the history tables, and
    the environment that points Chainlit at them."""
    import secrets
    import shutil
    import string

    from .history import create_tables, history_url

    index = Path(settings.index_dir).resolve()
    home = index.parent / f"{index.name}-web"
    (home / ".chainlit").mkdir(parents=True, exist_ok=True)
    template = string.Template(
        Path(__file__).with_name("webapp").joinpath("config.toml").read_text()
    )
    config = template.substitute(
        uploads=str(settings.web_uploads != "off").lower(),
        max_files=settings.web_upload_files,
        max_size_mb=max(1, round(settings.web_upload_mb)),
        session_timeout=max(1, settings.web_session_seconds),
    )
    (home / ".chainlit" / "config.toml").write_text(config, encoding="utf-8")
    for readme in Path(__file__).with_name("webapp").glob("chainlit*.md"):
        shutil.copyfile(readme, home / readme.name)
    env = {"CHAINLIT_APP_ROOT": str(home)}
    keeps_history = history_url(settings) is not None
    if keeps_history:
        create_tables(settings)
    if keeps_history or os.environ.get("RAG_WEB_PASSWORD"):
        secret = home / "auth-secret"
        if not secret.exists():
            secret.touch(mode=0o600)
            secret.write_text(secrets.token_urlsafe(32))
        env["CHAINLIT_AUTH_SECRET"] = os.environ.get("CHAINLIT_AUTH_SECRET") or secret.read_text()
    return env


def cmd_serve(args) -> int:
    """The HTTP API (rag/api.py) on one process that keeps the model and index loaded."""
    import ipaddress

    import uvicorn

    from .api import Keys, create_app
    from .indexing import has_index, ingest

    settings, keys = _settings(args), Keys.from_env()
    loopback = args.host == "localhost" or (
        args.host.replace(".", "").isdigit() and ipaddress.ip_address(args.host).is_loopback
    )
    if not keys and not loopback:
        raise BadInput(
            f"no API keys are set, so the API would answer anyone on {args.host}",
            "set RAG_API_KEYS (and RAG_API_ADMIN_KEYS for ingest), or serve on 127.0.0.1",
        )
    if not has_index(settings):
        print(f"No index yet; ingesting {settings.seeds_dir} first …", file=sys.stderr)
        print(ingest([Path(settings.seeds_dir)], settings).summary(), file=sys.stderr)
    if not keys:
        print("No API keys set (RAG_API_KEYS): serving localhost only.", file=sys.stderr)
    from .embeddings import get_embedder
    from .indexing import open_index
    from .keywords import keyword_tokens

    open_index(settings)  # loaded before the first request, not during it
    get_embedder(settings).embed_query("warm-up")
    keyword_tokens(["준비"])
    print(f"HTTP API on http://{args.host}:{args.port}/v1", file=sys.stderr, flush=True)
    uvicorn.run(create_app(settings, keys), host=args.host, port=args.port, log_level="warning")
    return 0


def cmd_feedback(args) -> int:
    """Rated web-chat answers → evaluation cases `rag eval feedback` runs."""
    from .history import export

    n = export(_settings(args), Path(args.out))
    print(
        f"{n} rated answers written to {args.out}; run them: rag eval feedback --cases {args.out}"
    )
    return 0


def _eval_feedback(args) -> int:
    from .eval.feedback import load_cases, run_feedback

    cases = load_cases(Path(args.cases))
    print(f"Running {len(cases)} rated answers from {args.cases} …", file=sys.stderr, flush=True)
    result = run_feedback(cases, _settings(args), log=lambda m: print(m, file=sys.stderr))
    report = Path(args.report)
    report.mkdir(parents=True, exist_ok=True)
    (report / "feedback.json").write_text(json.dumps(result, ensure_ascii=False, indent=1))
    print(f"feedback cases: {result['passed']} of {result['cases']} pass")
    for r in result["failed"]:
        print(f"FAILED ({r['rating']}) {r['question']}: {r['why']}")
    return 1 if result["failed"] else 0


def cmd_eval(args) -> int:
    if args.suites == ["feedback"]:
        return _eval_feedback(args)
    from .eval.harness import run_suite
    from .eval.meta import meta_evaluate
    from .eval.reports import table, write_reports
    from .eval.suites import load_suite

    settings = _settings(args)
    names = args.suites or ["seeds_dev", "seeds_test", "korquad_dev", "korquad_test"]
    reports = []
    for name in names:
        suite = load_suite(name, full=args.full)
        print(
            f"Running suite {suite.name} ({len(suite.questions)} questions) …",
            file=sys.stderr,
            flush=True,
        )
        report = run_suite(
            suite, settings, log=lambda m: print(m, file=sys.stderr), judge_llm=args.judge
        )
        if args.meta:
            report["meta"] = meta_evaluate(suite)
        reports.append(report)
    print(table(reports))
    for r in reports:
        if "meta" in r:
            m = r["meta"]
            print(
                f"\nmeta-evaluation ({r['suite']}): {m['caught']:.1%} of {m['corruptions']} "
                "corruptions caught, "
                f"{m['clean_flagged']:.1%} of {m['clean_answers']} clean answers flagged"
            )
            for kind, v in m["by_kind"].items():
                print(f"  {kind:<32} {v['caught']:.1%} of {v['n']}")
    written = write_reports(reports, Path(args.report))
    print(f"\nreports: {', '.join(str(p) for p in written)}")
    failed = [(r["suite"], m) for r in reports for m in r["missed"]]
    for suite, miss in failed:
        print(f"FAILED {suite}: {miss}")
    for r in reports:
        for q in r["questions"]:
            if q["problems"] and failed:
                print(
                    f"  {r['suite']} {q['id']} {q['question']}\n    got: {q['answer'][:160]}\n    "
                    f"{'; '.join(q['problems'])}"
                )
    return 1 if failed else 0


def cmd_index(args) -> int:
    """``rag index migrate --to URL``: copy the index to another store without re-embedding."""
    from .indexing import migrate
    from .stores import settings_for_url

    settings = _settings(args)
    target = settings_for_url(settings, args.to, args.to_collection)
    print(f"Copying the index to {args.to} …", file=sys.stderr, flush=True)
    t = time.time()
    chunks = migrate(settings, target)
    print(
        f"Copied {chunks} chunks with their vectors, keyword tokens and answer sentences in "
        f"{time.time() - t:.1f} s."
    )
    return 0


def cmd_fit(args) -> int:
    """``rag fit``: fit the reader on development data (KorQuAD articles 0-69, the seed dev
    questions) and write its parameters."""
    from .answering.fit import fit
    from .answering.reader import MODEL_FILE

    settings = _settings(args)
    t = time.time()
    fit(
        settings,
        Path(args.out) if args.out else MODEL_FILE,
        Path(args.cache) if args.cache else None,
    )
    print(f"Fitted in {time.time() - t:.0f} s.")
    return 0


def cmd_settings(args) -> int:
    settings = _settings(args)
    for name, value, help in settings.describe():
        shown = "(set)" if "key" in name and "env" not in name else value
        print(f"{name} = {shown}\n    {help}  [env RAG_{name.upper()}]")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rag", description="Cited answers over Korean news articles, offline."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p):
        p.add_argument("--index", help="index folder (default: vectorstore/, env RAG_INDEX_DIR)")
        p.add_argument(
            "--store",
            choices=["faiss", "pgvector", "milvus"],
            help="where the index lives (default faiss, env RAG_STORE)",
        )
        p.add_argument(
            "--store-url",
            help="server store URL: postgresql://user@host/db or http://host:19530 "
            "(env RAG_STORE_URL)",
        )
        p.add_argument("--collection", help="index name inside the server store (default rag)")
        return p

    def filters(p):
        p.add_argument("--source", action="append", help="only this article file (repeatable)")
        p.add_argument("--outlet", action="append", help="only this outlet (repeatable)")
        p.add_argument("--since", help="only articles published on or after YYYY-MM-DD")
        p.add_argument("--until", help="only articles published on or before YYYY-MM-DD")

    p = common(
        sub.add_parser("ingest", help="index article files (default: the bundled seed articles)")
    )
    p.add_argument(
        "paths",
        nargs="*",
        help="article files (.txt/.md/.html/.pdf) or folders, or URLs of pages, feeds, sitemaps",
    )
    p.add_argument(
        "--rebuild", action="store_true", help="ignore the existing index and build it anew"
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_ingest)

    p = common(sub.add_parser("watch", help="keep an index current with feeds or sitemaps"))
    p.add_argument("urls", nargs="+", help="http(s) URLs of RSS/Atom feeds, sitemaps or pages")
    p.add_argument("--every", default="30m", help="time between rounds: 30m, 1h, 90s")
    p.add_argument("--rounds", type=int, default=0, help="stop after N rounds (default: never)")
    p.set_defaults(func=cmd_watch)

    p = sub.add_parser("extract", help="print what ingest would index from files (no index)")
    p.add_argument("files", nargs="+", help=".txt/.md/.html/.pdf files")
    p.add_argument("--json", action="store_true", help="one JSON object per file")
    p.set_defaults(func=cmd_extract)

    p = common(sub.add_parser("search", help="ranked passages for a query"))
    p.add_argument("query", nargs="?")
    p.add_argument("-k", type=int, help="number of passages (default 5)")
    p.add_argument("--json", action="store_true", help="one JSON object per query")
    p.add_argument("--queries", help="file with one query per line ('-' for stdin); JSON lines out")
    p.add_argument("--mode", choices=["hybrid", "dense", "keyword"], default="hybrid")
    filters(p)
    p.set_defaults(func=cmd_search)

    p = common(sub.add_parser("ask", help="one cited answer"))
    p.add_argument("question", nargs="?")
    p.add_argument("-k", type=int, help="passages given to the composer (default 5)")
    p.add_argument(
        "--json", action="store_true", help="one JSON object (see README for the fields)"
    )
    p.add_argument(
        "--questions", help="file with one question per line ('-' for stdin); JSON lines out"
    )
    p.add_argument("--backend", choices=["extractive", "openai", "ollama"], help="answer composer")
    filters(p)
    p.set_defaults(func=cmd_ask)

    p = common(sub.add_parser("chat", help="a terminal conversation with follow-up questions"))
    p.add_argument("-k", type=int)
    p.add_argument("--backend", choices=["extractive", "openai", "ollama"])
    filters(p)
    p.set_defaults(func=cmd_chat)

    p = common(sub.add_parser("eval", help="run evaluation suites (exit 1 on a missed threshold)"))
    p.add_argument(
        "suites",
        nargs="*",
        help="suite names (rag/eval/suites/NAME.toml) or paths, or 'feedback' (the web chat's "
        "rated answers, --cases); default: seeds_dev seeds_test korquad_dev korquad_test",
    )
    p.add_argument(
        "--report",
        default="reports/eval",
        help="folder for report.json, summary.md, junit.xml, report.html",
    )
    p.add_argument("--backend", choices=["extractive", "openai", "ollama"])
    p.add_argument(
        "--full", action="store_true", help="KorQuAD: every article and question, not the CI sample"
    )
    p.add_argument(
        "--meta", action="store_true", help="also check the checker on corrupted gold answers"
    )
    p.add_argument(
        "--judge",
        action="store_true",
        help="also grade answers with the configured LLM (prompts/judge.txt)",
    )
    p.add_argument(
        "--cases",
        default="feedback.jsonl",
        help="`rag eval feedback`: the rated answers (written by rag feedback export)",
    )
    p.set_defaults(func=cmd_eval)

    p = common(sub.add_parser("feedback", help="the web chat's rated answers"))
    p.add_argument("action", choices=["export"], help="export: rated answers as eval cases")
    p.add_argument("--out", default="feedback.jsonl", help="file to write (JSON lines)")
    p.set_defaults(func=cmd_feedback)

    p = common(sub.add_parser("serve", help="the HTTP API (OpenAI-compatible chat, search)"))
    p.add_argument("--host", default="127.0.0.1", help="address (default: localhost only)")
    p.add_argument("--port", type=int, default=8001)
    p.set_defaults(func=cmd_serve)

    p = common(sub.add_parser("web", help="the web chat (Chainlit) on localhost"))
    p.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: localhost only)"
    )
    p.add_argument("--port", type=int, default=8000)
    p.set_defaults(func=cmd_web)

    p = common(
        sub.add_parser("bench", help="benchmarks: retrieval quality or stage-by-stage performance")
    )
    p.add_argument(
        "what",
        choices=[
            "retrieval",
            "answers",
            "perf",
            "web",
            "api",
            "stores",
            "extraction",
            "dates",
            "archive",
        ],
    )
    p.add_argument("--small", action="store_true", help="perf: the small CI sample")
    p.add_argument(
        "--large",
        type=float,
        default=0.0,
        metavar="SCALE",
        help="perf: only the large-corpus ingest, SCALE × KorQuAD's size (4.5 ≈ 21,000 chunks)",
    )
    p.add_argument(
        "--url",
        help="web, api: a running server to load (default: start `rag web`/`rag serve` on --index)",
    )
    p.add_argument("--chats", type=int, default=10, help="web: concurrent chats")
    p.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="web: run the chats this many times, each round's chats let go before the next "
        "(server memory after each: a leak grows round on round, a chat's own memory does not)",
    )
    p.add_argument(
        "--llm-url",
        help="web: answer with this OpenAI-compatible LLM (first token = first verified sentence)",
    )
    p.add_argument("--clients", type=int, default=50, help="api: concurrent clients, one key each")
    p.add_argument(
        "--seconds", type=float, default=60, help="web, api: how long every client keeps asking"
    )
    p.add_argument(
        "--korquad", help="path to KorQuAD_v1.0_dev.json (default: the copy in rag/data/korquad/)"
    )
    p.add_argument(
        "--articles",
        type=int,
        help="only the first N KorQuAD articles (extraction: pages per split), a quick sample; "
        "archive: how many articles to write (20,000)",
    )
    p.add_argument("--no-baseline", action="store_true", help="skip the LangChain baseline")
    p.add_argument(
        "--stores", default="pgvector,milvus", help="stores: server stores compared with FAISS"
    )
    p.add_argument("--questions", type=int, default=1000, help="stores: questions sampled (0: all)")
    p.add_argument(
        "--pg-url", help="stores: an existing PostgreSQL (default: start one with pgserver)"
    )
    p.add_argument("--milvus-url", help="stores: an existing Milvus (default: start Milvus Lite)")
    p.add_argument("--out", help="write the full result as JSON here")
    p.set_defaults(func=cmd_bench)

    p = common(sub.add_parser("index", help="manage the index: migrate it to another store"))
    p.add_argument("action", choices=["migrate"])
    p.add_argument(
        "--to",
        required=True,
        help="postgresql://… or http://host:port (Milvus) URL, or a folder for FAISS files",
    )
    p.add_argument(
        "--to-collection", help="index name in the target server store (default: the same)"
    )
    p.set_defaults(func=cmd_index)

    p = common(
        sub.add_parser("fit", help="fit the answer reader on development data (writes model.json)")
    )
    p.add_argument(
        "--out",
        help="where to write the parameters (default: the shipped rag/answering/model.json)",
    )
    p.add_argument(
        "--cache",
        help="a directory to keep the indexes and retrieved passages in and reuse next time "
        "(features and models are then refitted in a minute or two)",
    )
    p.set_defaults(func=cmd_fit)

    p = common(sub.add_parser("settings", help="list every setting, its value and meaning"))
    p.set_defaults(func=cmd_settings)
    return parser


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    args = build_parser().parse_args(argv)
    if getattr(args, "queries", None) or getattr(args, "questions", None):
        args.json = True
    try:
        return args.func(args)
    except RagError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; the index is as it was before this command", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


# Commands that only read: nothing is left to write when they return.
READ_ONLY = ("ask", "search")


def run() -> None:
    """The ``rag`` command. A read-only command on the local FAISS index ends without Python's
    teardown (freeing the query model, the index and the native libraries takes longer than a
    cached answer): its output is flushed, the index was only read, and the Kiwi helper ends
    when its pipe closes. Every other command, and one that used a server store (whose
    connections close properly), exits as usual."""
    code = main()
    server_store = any(m in sys.modules for m in ("rag.stores.pgvector", "rag.stores.milvus"))
    if sys.argv[1:2] and sys.argv[1] in READ_ONLY and not server_store:
        with contextlib.suppress(OSError, ValueError):  # a closed pipe: nothing to flush into
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    run()
