"""Command line: ``python -m orchestrator ingest|events|videos ...``.

Progress and messages go to stderr; with ``--json`` the last line of stdout is one JSON object
(or list) that scripts can parse. Errors are one clear line on stderr and a non-zero exit.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from .config import DEFAULT_LANES, IngestConfig, default_home, lanes_from_env
from .settings import get_settings


def _home(args) -> Path:
    home = Path(args.home).expanduser() if args.home else default_home()
    home.mkdir(parents=True, exist_ok=True)
    return home


def cmd_ingest(args) -> int:
    from .homelock import HomeLock  # noqa: PLC0415

    home = _home(args)
    if Path(args.path).expanduser().is_dir():
        if args.recorded_at:
            raise LookupError("--recorded-at gives one video's recording start: give a video file, not a folder")
        with HomeLock(home, "ingest", detail=Path(args.path).name + "/"):
            return _watch_folder(args, home) if args.watch else _ingest_folder(args, home)
    if args.watch:
        raise LookupError(f"--watch watches a folder for new videos; {args.path} is not a folder")
    recorded_at = None
    if args.recorded_at:
        from .clock import parse_recorded_at  # noqa: PLC0415

        recorded_at = parse_recorded_at(args.recorded_at)  # a bad time fails before anything starts
    # a second writer is told first, before the heavy imports, the probe and any model server
    with HomeLock(home, "ingest", detail=Path(args.path).name):
        try:
            return _ingest_holding_home(args, home)
        finally:
            if recorded_at is not None:
                _give_recorded_at(home, args.path, recorded_at)


def _give_recorded_at(home: Path, path: str, at) -> None:
    """``--recorded-at``: the video registered for this file gets the recording start given (kept over its metadata)."""
    from .graph import EventGraph  # noqa: PLC0415
    from .pipeline import database_path  # noqa: PLC0415

    if not database_path(home).exists():
        return
    with EventGraph(database_path(home)) as graph:
        video_id = graph.video_at_path(str(Path(path).expanduser().resolve()))
        if video_id:
            graph.set_recorded_at(video_id, at)
            print(f"video {video_id}: recorded at {at:%Y-%m-%d %H:%M:%S} UTC (given)", file=sys.stderr)


def _ingest_holding_home(args, home: Path) -> int:
    from tqdm import tqdm  # noqa: PLC0415

    from .lanes import resolve  # noqa: PLC0415
    from .media import probe  # noqa: PLC0415
    from .pipeline import Ingestor, Services  # noqa: PLC0415

    info = probe(args.path)  # fail fast on bad input, before any server starts
    lanes = tuple(x.strip() for x in args.lanes.split(",") if x.strip()) if args.lanes else lanes_from_env()
    try:
        resolve(lanes)  # an unknown lane name is an error before anything starts
        config = IngestConfig(window_s=args.window_s, executor=args.executor or get_settings().executor, lanes=lanes)
    except ValueError as exc:
        raise LookupError(f"{exc} (--lanes or VDET_LANES)") from None

    def on_progress(msg: dict) -> None:
        if bar.total is None:
            bar.total = msg["windows"]
            bar.n = msg["done"] - 1
        bar.update(1)
        bar.set_postfix(t=f"{msg['t_end']:.0f}/{msg['duration_s']:.0f}s", events=msg["events"])

    print(f"ingesting {info.path} ({info.duration_s:.1f} s, video={info.has_video}, audio={info.has_audio})", file=sys.stderr)
    with Services() as services:
        bar = tqdm(total=None, unit="window", file=sys.stderr, disable=args.quiet, desc=Path(args.path).name[:30])
        try:
            summary = Ingestor(home, services, config).ingest(args.path, on_progress=on_progress)
        finally:
            bar.close()  # its line ends before any error is printed
    if args.json:
        print(json.dumps({**summary.to_dict(), "wall_s": summary.wall_s}))
    else:
        print(
            f"video {summary.video_id}: {summary.windows} windows ({summary.windows_resumed} resumed), {summary.events} events "
            f"{summary.counts}, {summary.frames_kept}/{summary.frames_scanned} frames kept, {summary.wall_s:.1f} s "
            f"({summary.duration_s / max(summary.wall_s, 1e-9):.1f}x realtime)"
        )
    return 0


VIDEO_SUFFIXES = {".mp4", ".m4v", ".mov", ".mkv", ".avi", ".webm", ".mpg", ".mpeg", ".ts", ".mts", ".m2ts", ".wmv", ".flv", ".3gp", ".ogv"}


def _ingest_one(ingestor, path: Path, head: str, bar: bool = False) -> dict:
    """One file of a folder: ingested (or skipped when already done), or reported as failed while the rest go on; one
    line (with ``bar``, a progress bar over its windows before it, gone once the line is printed)."""
    from .graph import StorageError  # noqa: PLC0415

    try:
        if bar:
            from tqdm import tqdm  # noqa: PLC0415

            with tqdm(total=None, unit="window", file=sys.stderr, desc=path.name[:30], leave=False) as progress:

                def on_progress(msg: dict) -> None:
                    progress.total = msg["windows"]
                    progress.n = msg["done"]
                    progress.refresh()

                s = ingestor.ingest(path, on_progress=on_progress)
        else:
            s = ingestor.ingest(path)
    except StorageError:
        raise  # the disk is full: every later file would fail the same way
    except Exception as exc:  # noqa: BLE001 - one bad file is reported; the rest go on
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        print(f"{head}: FAILED: {reason}", file=sys.stderr, flush=True)
        return {"path": str(path), "name": path.name, "status": "failed", "error": reason}
    skipped = s.windows_resumed >= s.windows
    what = "already ingested, skipped" if skipped else (f"{s.windows} windows ({s.windows_resumed} resumed), {s.events} events in {s.wall_s:.1f} s")
    print(f"{head}: video {s.video_id}: {what}", file=sys.stderr, flush=True)
    return {**s.to_dict(), "path": str(path), "name": path.name, "status": "skipped" if skipped else "ingested", "wall_s": s.wall_s}


def _folder_videos(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES and not p.name.startswith("."))


def _watch_folder(args, home: Path) -> int:
    """``ingest DIR --watch``: the videos already there, then each new one once it is complete, until Ctrl-C or SIGTERM.

    Polling, not file-system events: a file is complete when its size and modification time are the same at two polls
    and it was last written ``--settle-s`` ago, which needs a stat of every candidate anyway; inotify misses writes on
    the network shares (NFS, SMB) footage often lives on; and an ingest takes minutes, so a poll every few seconds
    loses nothing. A file that failed is tried again only when it changes."""
    import signal  # noqa: PLC0415
    import time  # noqa: PLC0415

    from .pipeline import Ingestor, Services  # noqa: PLC0415

    folder = Path(args.path).expanduser()
    if args.poll_s <= 0 or args.settle_s < 0:
        raise LookupError(f"--poll-s takes seconds above 0 and --settle-s seconds from 0; got {args.poll_s:g} and {args.settle_s:g}")
    config = _folder_config(args)
    handled: dict[Path, tuple[int, int]] = {}  # the (size, mtime) each file had when it was ingested or failed
    last: dict[Path, tuple[int, int]] = {}  # at the previous poll
    results: list[dict] = []
    current: list[str] = []

    stopped: list[int] = []  # the signal that asked to stop, once one did

    def stop(signum, _frame) -> None:
        stopped.append(signum)
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, stop)
    previous_int = signal.signal(signal.SIGINT, stop)
    try:
        with Services() as services:
            ingestor = Ingestor(home, services, config)
            print(
                f"watching {folder} for videos (every {args.poll_s:g} s; a file counts once unchanged for {args.settle_s:g} s); Ctrl-C stops",
                file=sys.stderr,
                flush=True,
            )
            while True:
                now = time.time()
                for path in _folder_videos(folder) if folder.is_dir() else []:
                    try:
                        st = path.stat()
                    except FileNotFoundError:
                        continue
                    sig = (st.st_size, st.st_mtime_ns)
                    before, last[path] = last.get(path), sig
                    if handled.get(path) == sig or before != sig or st.st_size == 0 or now - st.st_mtime < args.settle_s:
                        continue  # done already, still being written, or not yet seen twice
                    current[:] = [path.name]
                    result = _ingest_one(ingestor, path, f"[{len(results) + 1}] {path.name}", bar=not args.quiet)
                    if stopped:  # a Ctrl-C whose unwinding another error replaced: still a stop, not a failed file
                        raise KeyboardInterrupt
                    results.append(result)
                    current.clear()
                    handled[path] = sig
                time.sleep(args.poll_s)
    except KeyboardInterrupt:
        n = {k: sum(1 for r in results if r["status"] == k) for k in ("ingested", "skipped", "failed")}
        during = f"; {current[0]} stopped mid-ingest, its finished windows saved (run again to resume)" if current else ""
        print(f"stopped watching {folder}: {n['ingested']} ingested, {n['skipped']} already done, {n['failed']} failed{during}", file=sys.stderr, flush=True)
        if args.json:
            print(json.dumps({"folder": str(folder), **n, "videos": results, "interrupted": current[0] if current else None}, default=str))
        # stopped while idle: done (0); stopped mid-ingest: 130, as an interrupted ingest (the window in flight is
        # abandoned, and the process leaves without waiting for its native decoder threads)
        return 130 if current else 0
    finally:
        signal.signal(signal.SIGTERM, previous)
        signal.signal(signal.SIGINT, previous_int)


def _folder_config(args) -> IngestConfig:
    lanes = tuple(x.strip() for x in args.lanes.split(",") if x.strip()) if args.lanes else lanes_from_env()
    try:
        from .lanes import resolve  # noqa: PLC0415

        resolve(lanes)
        return IngestConfig(window_s=args.window_s, executor=args.executor or get_settings().executor, lanes=lanes)
    except ValueError as exc:
        raise LookupError(f"{exc} (--lanes or VDET_LANES)") from None


def _ingest_folder(args, home: Path) -> int:
    """Every video file of a folder, in name order, with one Triton for all: a finished one is found by its content hash and
    skipped, a partial one resumes, a bad one is reported and the rest go on; a summary at the end."""
    from .pipeline import Ingestor, Services  # noqa: PLC0415

    folder = Path(args.path).expanduser()
    files = _folder_videos(folder)
    others = sum(1 for p in folder.iterdir() if p.is_file() and p not in files)
    if not files:
        raise LookupError(
            f"{folder} is a directory with no video files in it (looked for {', '.join(sorted(VIDEO_SUFFIXES))}): put videos in it, or give one video file"
        )
    config = _folder_config(args)
    print(f"ingesting {len(files)} videos from {folder}" + (f" ({others} other files ignored)" if others else ""), file=sys.stderr)
    results: list[dict] = []
    with Services() as services:
        ingestor = Ingestor(home, services, config)
        for i, path in enumerate(files, 1):
            results.append(_ingest_one(ingestor, path, f"[{i}/{len(files)}] {path.name}"))
    n = {k: sum(1 for r in results if r["status"] == k) for k in ("ingested", "skipped", "failed")}
    failed = [r["name"] for r in results if r["status"] == "failed"]
    line = f"{folder}: {n['ingested']} ingested, {n['skipped']} already done, {n['failed']} failed" + (
        f" ({', '.join(failed)}: see the lines above; fix or remove them and run the same command again)" if failed else ""
    )
    print(line, file=sys.stderr)
    if args.json:
        print(json.dumps({"folder": str(folder), **n, "videos": results}, default=str))
    return 1 if failed else 0


def _open_graph(args):
    from .homelock import open_read_only  # noqa: PLC0415

    return open_read_only(_home(args), "wait for it to finish, or ask through the app")


def _through_app(args):
    """While the app writes to this home, DuckDB opens it for nobody else: the read-only commands ask the app."""
    from .app_client import AppClient, app_url  # noqa: PLC0415

    url = app_url(_home(args))
    return AppClient(_home(args), url) if url else None


def _api_through_app(args):
    """The running app's HTTP API when the app holds this home (found through the home), else None."""
    from .app_client import AppApi, app_url  # noqa: PLC0415

    url = app_url(_home(args))
    return AppApi(_home(args), url) if url else None


def cmd_events(args) -> int:
    app = _through_app(args)
    if app is not None:
        events = app.events(args.video_id, args.kind)
    else:
        with _open_graph(args) as graph:
            if graph.video(args.video_id) is None:
                raise LookupError(f"unknown video id {args.video_id!r}; `python -m orchestrator videos` lists them")
            events = graph.events(args.video_id, args.kind)
    if args.json:
        print(json.dumps(events, default=str))
    else:
        from .events import fmt_time  # noqa: PLC0415

        for e in events:
            what = f'"{e["text"]}"' if e["kind"] == "speech" else e["label"]
            print(f"[{fmt_time(e['t_start'])}-{fmt_time(e['t_end'])}] {e['kind']:9} {what}  ({e['confidence']:.2f})")
    return 0


def cmd_videos(args) -> int:
    app = _through_app(args)
    if app is not None:
        videos = app.videos()
    else:
        with _open_graph(args) as graph:
            videos = graph.videos()
    if args.json:
        print(json.dumps(videos, default=str))
    else:
        for v in videos:
            at = v.get("recorded_at")
            at = (at if isinstance(at, str) else at.isoformat(sep=" ")) if at else "-"
            clock = f"{str(at)[:19]:19}" + (f" ({v['recorded_from']})" if v.get("recorded_from") else "")
            print(f"{v['video_id']}  {v['status']:9} {v['windows_done']}/{v['n_windows']} windows  {v['duration_s']:8.1f} s  {clock:30} {v['name']}")
    return 0


def cmd_config(args) -> int:
    """Every effective setting, its value and where it came from (default, file, env, flag)."""
    from .settings import load_settings  # noqa: PLC0415

    flags = {"home": args.home}
    for name in ("executor", "lanes"):
        if getattr(args, name, None) is not None:
            flags[name] = getattr(args, name)
    settings = load_settings(**flags)
    rows = settings.rows()
    if args.json:
        print(json.dumps({"config_file": str(settings.config_file) if settings.config_file else None, "settings": rows}))
        return 0
    print(f"config file: {settings.config_file or 'none (set VDET_CONFIG or write <home>/config.toml)'}")
    width = max(len(r["name"]) for r in rows)
    for r in rows:
        value = r["value"]
        shown = ",".join(value) if isinstance(value, list) else "" if value is None else str(value)
        print(f"{r['name']:{width}}  {shown:40} {r['origin']:7}  ${r['env']}  {r['description']}")
    return 0


def _video_list(text: str | None) -> list[str] | None:
    return [v.strip() for v in text.split(",") if v.strip()] if text else None


def _seconds(text: str | None, flag: str) -> float | None:
    """Seconds from '95', '1:35' or '01:01:35'."""
    if text is None:
        return None
    try:
        parts = [float(x) for x in text.split(":")]
    except ValueError:
        raise LookupError(f"{flag} takes seconds or a time like 14:05 or 1:02:03; got {text!r}") from None
    if len(parts) > 3:
        raise LookupError(f"{flag} takes seconds or a time like 14:05 or 1:02:03; got {text!r}")
    return sum(p * 60**i for i, p in enumerate(reversed(parts)))


def cmd_search(args) -> int:
    from datetime import datetime  # noqa: PLC0415

    from .events import fmt_time  # noqa: PLC0415
    from .graph import Span  # noqa: PLC0415
    from .library import search  # noqa: PLC0415
    from .services import question_embedder  # noqa: PLC0415

    lo, hi = _seconds(args.t_from, "--from"), _seconds(args.t_to, "--to")
    span = Span(lo or 0.0, hi if hi is not None else 1e12) if lo is not None or hi is not None else None
    api = _api_through_app(args)
    if api is not None:  # the app holds the home: it searches (no model server started here)
        if args.since or args.until:
            raise LookupError("--since/--until are not in the app's search API; stop the app, or filter by --videos")
        try:
            rows = api.search(args.query, args.kind or (), args.label or (), _video_list(args.videos), args.limit, lo, hi, args.semantic)
        finally:
            api.close()
        if args.json:
            print(json.dumps(rows))
        else:
            for m in rows:
                print(f"{m['video_name']} [{fmt_time(m['t_start'])}-{fmt_time(m['t_end'])}] {m['kind']:9} {m['label']:14} {m['snippet']}  ({m['score']:.2f})")
        print(f"{len(rows)} moments (searched by the app at {api.url})", file=sys.stderr)
        return 0
    with _open_graph(args) as graph:
        embed, close = question_embedder(args.semantic)
        try:
            moments = search(
                graph,
                args.query,
                videos=_video_list(args.videos),
                kinds=tuple(args.kind or ()),
                labels=tuple(args.label or ()),
                span=span,
                embed=embed,
                limit=args.limit,
                since=args.since,
                until=args.until,
            )
        finally:
            close()
    if args.json:
        print(json.dumps([m.to_dict() for m in moments]))
    else:
        from .clock import wall_label  # noqa: PLC0415

        for m in moments:
            wall = f" ({wall_label(datetime.fromisoformat(m.wall_time))})" if m.wall_time else ""
            print(f"{m.video_name} [{fmt_time(m.t_start)}-{fmt_time(m.t_end)}]{wall} {m.kind:9} {m.label:14} {m.snippet}  ({m.score:.2f})")
        print(f"{len(moments)} moments", file=sys.stderr)
    return 0


def cmd_mcp(args) -> int:
    """The MCP server on stdio (stdout carries the protocol; logs go to stderr)."""
    from .mcp_server import serve  # noqa: PLC0415

    return serve(_home(args))


def build_vlm():
    """The VLM engine when ``VLM_BASE_URL`` names an OpenAI-compatible endpoint, else None."""
    from .settings import get_settings  # noqa: PLC0415

    settings = get_settings()
    if not settings.vlm_base_url:
        return None
    from .answer import VLMEngine  # noqa: PLC0415
    from .media import frame_jpeg  # noqa: PLC0415

    return VLMEngine(settings.vlm_base_url, model=settings.vlm_model, api_key=settings.vlm_api_key, timeout_s=settings.vlm_timeout_s, frame_loader=frame_jpeg)


def _ask_through_app(app, args) -> int:
    """One question (or template) answered by the running app, printed as the local path prints it."""
    from .events import fmt_time  # noqa: PLC0415

    doc = app.ask(args.video_id, args.question or "", args.session or "", args.template)
    print(doc["answer"])
    if args.json:
        print(json.dumps({**doc, "video_id": args.video_id}))
    elif doc.get("citations"):
        print("cited: " + ", ".join(f"[{fmt_time(c['t_start'])}] {c['event_id']}" for c in doc["citations"]), file=sys.stderr)
    if not args.session:
        print(f"session {doc['session']} (pass --session {doc['session']} to ask a follow-up)", file=sys.stderr)
    print(f"(answered by the app at {app.url})", file=sys.stderr)
    return 0


def cmd_ask(args) -> int:
    import threading  # noqa: PLC0415

    import redis  # noqa: PLC0415

    from .ask import AskService, check_session, new_session_id, tokens_channel  # noqa: PLC0415
    from .model_clients import TritonModels  # noqa: PLC0415
    from .pipeline import Services  # noqa: PLC0415

    if args.library:
        return _ask_library(args)
    app = _through_app(args)
    if app is not None:
        return _ask_through_app(app, args)
    session = check_session(args.session) if args.session else new_session_id()
    graph = _open_graph(args)
    try:
        video = graph.video(args.video_id)
        if video is None:
            raise LookupError(f"unknown video id {args.video_id!r}; `python -m orchestrator videos` lists them")
        with Services(models=("embedder",)) as services:
            models = TritonModels(services.triton_url)
            client = redis.Redis.from_url(services.bus.url)
            vlm = build_vlm()
            if vlm is not None:
                vlm.video_path = lambda vid: (graph.video(vid) or {}).get("path")
            service = AskService(lambda: graph.con.cursor(), client, embed=models.embed, vlm=vlm)
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            pubsub.subscribe(tokens_channel(session))
            final: dict = {}

            def printer() -> None:
                while True:
                    msg = pubsub.get_message(timeout=1.0)
                    if not msg:
                        continue
                    data = json.loads(msg["data"])
                    if data["type"] == "token":
                        sys.stdout.write(data["text"])
                        sys.stdout.flush()
                    elif data["type"] == "notice":
                        print(f"\n[{data['text']}]", file=sys.stderr)
                    elif data["type"] in ("done", "cancelled", "error"):
                        final.update(data)
                        return

            thread = threading.Thread(target=printer, daemon=True)
            thread.start()
            answer = service.ask(session, args.video_id, args.question or "", template=args.template)
            thread.join(timeout=10)
            pubsub.close()
            models.close()
            print()
            if args.json:
                doc = answer.to_dict()
                out = {"answer": doc.pop("text"), **doc, "session": session, "video_id": args.video_id}
                print(json.dumps(out))
            elif answer.citations:
                from .events import fmt_time  # noqa: PLC0415

                print("cited: " + ", ".join(f"[{fmt_time(c.t_start)}] {c.event_id}" for c in answer.citations), file=sys.stderr)
            if not args.session:
                print(f"session {session} (pass --session {session} to ask a follow-up)", file=sys.stderr)
    finally:
        graph.close()
    return 0


def _ask_library(args) -> int:
    """``ask --library QUESTION``: one question over every video (or ``--videos``), cited by video and moment."""
    from .library import LibraryAsk, citation_line  # noqa: PLC0415
    from .services import question_embedder  # noqa: PLC0415

    if args.template or args.session:
        raise LookupError("--library asks one question of many videos: --template and --session work on one video (give its id)")
    question = " ".join(x for x in (args.video_id, args.question) if x)
    api = _api_through_app(args)
    if api is not None:  # the app holds the home: it answers, with the embedder it already runs
        try:
            doc = api.ask_library(question, _video_list(args.videos))
        finally:
            api.close()
        print(doc["answer"])
        if args.json:
            print(json.dumps(doc))
        elif doc.get("citations"):
            print("cited: " + ", ".join(f"{c.get('video_name', c.get('video_id', ''))} [{c.get('time', '')}]" for c in doc["citations"]), file=sys.stderr)
        print(f"(answered by the app at {api.url})", file=sys.stderr)
        return 0
    with _open_graph(args) as graph:
        embed, close = question_embedder(True)
        try:
            answer = LibraryAsk(graph, embed=embed).ask(question, videos=_video_list(args.videos))
        finally:
            close()
    print(answer.text)
    if args.json:
        print(json.dumps(answer.to_dict()))
    elif answer.citations:
        print("cited: " + ", ".join(citation_line(c) for c in answer.citations), file=sys.stderr)
    return 0


def cmd_rules(args) -> int:
    from .events import fmt_time  # noqa: PLC0415
    from .rules import load_rules  # noqa: PLC0415

    if args.rules_command == "check":
        rules = load_rules(args.file)
        print(f"{args.file}: {len(rules)} rules OK ({', '.join(r.id + ':' + r.when.name for r in rules)})")
        return 0
    from .graph import EventGraph  # noqa: PLC0415
    from .pipeline import active_rules, database_path, rerun_rules  # noqa: PLC0415

    home = _home(args)
    if args.library:  # rules run --library [FILE]: the one positional is the rule file
        if args.file:
            raise LookupError("rules run --library takes at most a rule FILE (choose videos with --videos)")
        args.file, args.video_id = args.video_id, None
    elif not args.video_id:
        raise LookupError("rules run needs a VIDEO_ID (from `python -m orchestrator videos`), or --library for every video")
    elif args.videos:
        raise LookupError("--videos chooses videos for rules run --library")
    rules = load_rules(args.file) if args.file else active_rules(home)  # a bad file fails here, before anything changes
    if not rules:
        raise LookupError(f"no rules: pass a FILE or put *.yaml files in {home / 'rules'}")
    from .homelock import HomeLock  # noqa: PLC0415

    with HomeLock(home, "rules"):
        graph = EventGraph(database_path(home))
        try:
            if args.library:
                from .alerts import rerun_library  # noqa: PLC0415

                groups = rerun_library(graph, rules, _video_list(args.videos))
            else:
                alerts = rerun_rules(graph, args.video_id, rules)
        finally:
            graph.close()
    if args.library:
        _print_alerts(groups, args.json)
        print(f"{sum(len(g.alerts) for g in groups)} alerts in {len(groups)} videos from {len(rules)} rules", file=sys.stderr)
        return 0
    if args.json:
        print(json.dumps([a.to_dict() for a in alerts]))
    else:
        for a in sorted(alerts, key=lambda a: a.t_start):
            print(f"[{fmt_time(a.t_start)}] {a.attrs['severity']:8} {a.label}: {a.text}")
        print(f"{len(alerts)} alerts from {len(rules)} rules", file=sys.stderr)
    return 0


def _print_alerts(groups, as_json: bool) -> None:
    """Alerts grouped by video: the video's name and recording start, then each alert's time in it and on the clock."""
    from .clock import wall_label  # noqa: PLC0415
    from .events import fmt_time  # noqa: PLC0415

    if as_json:
        print(json.dumps([g.to_dict() for g in groups], default=str))
        return
    for g in groups:
        when = f", recorded {g.recorded_at:%Y-%m-%d %H:%M:%S} UTC" if g.recorded_at else ""
        print(f"{g.name} ({g.video_id}{when}): {len(g.alerts)} alert{'' if len(g.alerts) == 1 else 's'}")
        for a in g.alerts:
            wall = g.wall_time(a)
            print(f"  [{fmt_time(a.t_start)}]" + (f" ({wall_label(wall)})" if wall else "") + f" {a.attrs.get('severity', ''):8} {a.label}: {a.text}")


def cmd_alerts(args) -> int:
    """The alerts of every video (or ``--videos``), grouped by video, with the wall-clock time where it is known."""
    from .alerts import library_alerts  # noqa: PLC0415

    with _open_graph(args) as graph:
        groups = library_alerts(graph, _video_list(args.videos))
    if not args.all:
        groups = [g for g in groups if g.alerts] if not args.videos else groups
    _print_alerts(groups, args.json)
    print(f"{sum(len(g.alerts) for g in groups)} alerts in {len(groups)} videos", file=sys.stderr)
    return 0


def cmd_export(args) -> int:
    from .export import export_moments  # noqa: PLC0415

    with _open_graph(args) as graph:
        video = graph.video(args.video_id)
    if video is None:
        raise LookupError(f"unknown video id {args.video_id!r}; `python -m orchestrator videos` lists them")
    spans = []
    for text in args.span:
        try:
            a, b = (float(x) for x in text.split("-", 1))
        except ValueError:
            raise LookupError(f"--span takes START-END in seconds, e.g. 12-18.5; got {text!r}") from None
        spans.append((a, b))
    out = export_moments(video["path"], spans, args.out, pad_s=args.pad)
    print(json.dumps({"out": str(out), "spans": spans}) if args.json else f"wrote {out}")
    return 0


def cmd_ground(args) -> int:
    """Open-vocabulary boxes (Grounding DINO) for named things over spans of an ingested video, written as events."""
    from .grounding import GroundingError, normalise_prompt, not_served_message, parse_span, weights_present  # noqa: PLC0415
    from .homelock import HomeLock  # noqa: PLC0415

    spans = [parse_span(s) for s in args.span or []]  # a bad span fails before anything starts
    if args.threshold is not None and not 0.0 < args.threshold < 1.0:
        raise GroundingError(f"--threshold is a box score between 0 and 1, e.g. 0.35; got {args.threshold:g}")
    phrases = list(args.phrases)
    if args.watch:
        from .templates import suspicious_spans, watch_list  # noqa: PLC0415

        phrases = phrases or list(watch_list(args.watch))
    if not normalise_prompt(phrases):
        raise GroundingError("name at least one thing to look for, e.g. `ground VIDEO_ID forklift ladder` (or --watch safety)")
    home = _home(args)
    with HomeLock(home, "ground"):
        from .graph import EventGraph  # noqa: PLC0415
        from .pipeline import database_path  # noqa: PLC0415

        graph = EventGraph(database_path(home))
        try:
            video = graph.video(args.video_id)
            if video is None:
                raise GroundingError(f"unknown video id {args.video_id!r}; `python -m orchestrator videos` lists them")
            if args.watch and not spans:
                spans = suspicious_spans(graph, args.video_id)
                if not spans:
                    print("no suspicious spans (motion spikes, alerts, hazard sounds) to ground the watch list over", file=sys.stderr)
                    if args.json:
                        print(json.dumps({"video_id": args.video_id, "prompt": normalise_prompt(phrases), "spans": [], "frames": 0, "events": []}))
                    return 0
            if not get_settings().triton_url and not weights_present():
                raise GroundingError(not_served_message())
            from .grounding import ground_video  # noqa: PLC0415
            from .model_clients import TritonModels  # noqa: PLC0415
            from .services import Services  # noqa: PLC0415

            with Services(need_bus=False, models=("grounder", "embedder")) as services:
                models = TritonModels(services.triton_url)
                try:
                    run = ground_video(graph, models, args.video_id, phrases, spans, threshold=args.threshold)
                finally:
                    models.close()
        finally:
            graph.close()
    if args.json:
        print(json.dumps(run.to_dict(), default=str))
        return 0
    from .events import fmt_time  # noqa: PLC0415

    for e in run.events:
        print(f"[{fmt_time(e.t_start)}-{fmt_time(e.t_end)}] {e.label}  ({e.confidence:.2f}, {e.attrs['n_frames']} frames, box {e.attrs['box']})")
    per = f", {run.model_s / run.frames:.2f} s a frame" if run.frames else ""
    print(f"{len(run.events)} things for {run.prompt!r} in {len(run.spans)} spans: {run.frames} frames grounded{per}", file=sys.stderr)
    return 0


def cmd_serve_models(args) -> int:
    import signal  # noqa: PLC0415
    import time  # noqa: PLC0415

    from .triton_server import DEFAULT_MODELS, TritonServer  # noqa: PLC0415

    server = TritonServer.start(
        models=args.models or DEFAULT_MODELS, http_port=args.http_port, grpc_port=args.grpc_port, config_name=args.config_name, detector_head=args.detector
    )
    print(f"Triton ready: HTTP {server.http_url}, gRPC {server.grpc_url}, models {', '.join(server.models)}; Ctrl-C stops it", file=sys.stderr)
    print(f"export TRITON_URL={server.http_url}")
    sys.stdout.flush()
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        while server.process.poll() is None:
            time.sleep(0.5)
        print(f"error: tritonserver exited:\n{server.log_tail()}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        server.stop()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m orchestrator", description="Video Detective: ingest videos and query their event graph.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log details to stderr")
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p):
        p.add_argument("--home", help="folder for the database and caches (default $VDET_HOME or ~/.cache/video-detective/home)")
        p.add_argument("--json", action="store_true", help="print machine-readable JSON as the last line of stdout")
        p.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help="log details to stderr")

    p = sub.add_parser("ingest", help="ingest a video, or every video of a folder (resumes if interrupted)")
    p.add_argument("path", help="a video file, or a folder: its video files in name order, those already done skipped")
    p.add_argument("--window-s", type=float, default=20.0, help="window length in seconds (default 20)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument(
        "--executor",
        choices=["local", "ray"],
        default=None,
        help="where windows are analysed: local threads (default, or $VDET_EXECUTOR) or tasks on the Ray cluster at $RAY_ADDRESS",
    )
    p.add_argument("--lanes", help="comma-separated senses to run (default $VDET_LANES or all): " + ", ".join(DEFAULT_LANES))
    p.add_argument("--watch", action="store_true", help="with a folder: keep running, ingesting each new video once it is complete; Ctrl-C stops")
    p.add_argument("--poll-s", type=float, default=2.0, help="with --watch: seconds between looks at the folder (default 2)")
    p.add_argument("--settle-s", type=float, default=5.0, help="with --watch: a file is complete once unchanged this many seconds (default 5)")
    p.add_argument("--recorded-at", metavar="ISO", help="one video's recording start, e.g. 2026-11-30T14:00:00Z (default: its metadata, else its file name)")
    common(p)
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("events", help="list a video's events")
    p.add_argument("video_id")
    p.add_argument("--kind", choices=["object", "speech", "sound", "scene_cut", "motion", "alert", "scene", "text"])
    common(p)
    p.set_defaults(func=cmd_events)

    p = sub.add_parser("ask", help="ask a question about an ingested video (streams the answer), or with --library about all of them")
    p.add_argument("video_id", help="the video's id (with --library: the question)")
    p.add_argument("question", nargs="?", default="", help="the question (optional with --template)")
    p.add_argument("--library", action="store_true", help='ask every video of the home (or --videos): ask --library "QUESTION"')
    p.add_argument("--videos", help="with --library: comma-separated video ids or file names")
    p.add_argument("--template", choices=["comprehensive", "safety", "performance", "pattern", "creative"])
    p.add_argument("--session", help="continue a conversation (follow-ups)")
    common(p)
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("search", help="search every video of the home: words said or written, labels, colours, scene descriptions")
    p.add_argument("query", help="words to look for (may be empty with --kind/--label)")
    p.add_argument("--videos", help="comma-separated video ids or file names (default: every video)")
    p.add_argument(
        "--kind",
        action="append",
        choices=["object", "speech", "sound", "scene_cut", "motion", "scene", "text"],
        help="only events of this kind (repeat for more)",
    )
    p.add_argument("--label", action="append", help="only events with this label (repeat for more)")
    p.add_argument("--from", dest="t_from", help="only moments from this time of each video (seconds or mm:ss)")
    p.add_argument("--to", dest="t_to", help="only moments up to this time of each video")
    p.add_argument("--since", help="only videos ingested on or after this date (YYYY-MM-DD)")
    p.add_argument("--until", help="only videos ingested before this date (YYYY-MM-DD)")
    p.add_argument("--limit", type=int, default=20)
    p.add_argument("--semantic", action="store_true", help="also rank by meaning (starts the embedder: slower to start)")
    common(p)
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("rules", help="check rule files; re-run rules over an ingested video (no models needed)")
    rsub = p.add_subparsers(dest="rules_command", required=True)
    rc = rsub.add_parser("check", help="validate a rule file")
    rc.add_argument("file")
    rc.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS)
    rc.set_defaults(func=cmd_rules)
    rr = rsub.add_parser("run", help="re-evaluate rules over a video's events (or with --library every video's), replacing its alerts")
    rr.add_argument("video_id", nargs="?", help="the video's id (with --library: omit it; the one argument is the rule file)")
    rr.add_argument("file", nargs="?", help="rule file (default: <home>/rules/*.yaml)")
    rr.add_argument("--library", action="store_true", help="every video of the home (or --videos); alerts listed by video")
    rr.add_argument("--videos", help="with --library: comma-separated video ids or file names")
    common(rr)
    rr.set_defaults(func=cmd_rules)

    p = sub.add_parser("alerts", help="list the alerts of every video, grouped by video, with the wall-clock time where known")
    p.add_argument("--videos", help="comma-separated video ids or file names (default: every video with alerts)")
    p.add_argument("--all", action="store_true", help="list videos without alerts too")
    common(p)
    p.set_defaults(func=cmd_alerts)

    p = sub.add_parser("export", help="cut moments of a video into one clip (NVENC on a GPU, libx264 on the CPU)")
    p.add_argument("video_id")
    p.add_argument("--span", action="append", required=True, help="START-END in seconds; repeat for a highlight reel")
    p.add_argument("--out", required=True)
    p.add_argument("--pad", type=float, default=1.0, help="seconds added before and after each moment")
    common(p)
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("ground", help="find named things COCO lacks (Grounding DINO, where its weights are) over spans of a video, as object events")
    p.add_argument("video_id")
    p.add_argument("phrases", nargs="*", help='what to look for, e.g. forklift ladder "open boot" (default with --watch: its watch list)')
    p.add_argument(
        "--span", action="append", help="START-END in seconds or mm:ss (repeat for more; default: the whole video, or with --watch its suspicious spans)"
    )
    p.add_argument("--watch", choices=["safety"], help="a template's watch list over its suspicious spans (motion spikes, alerts, hazard sounds)")
    p.add_argument("--threshold", type=float, help="box score from which a box is kept (default: the served model's box_threshold)")
    common(p)
    p.set_defaults(func=cmd_ground)

    p = sub.add_parser("serve-models", help="start the bundled Triton on triton_models/ and keep it running")
    p.add_argument("--http-port", type=int, default=8000)
    p.add_argument("--grpc-port", type=int, default=8001)
    p.add_argument("--models", nargs="*", help="subset of models to load (default: all)")
    p.add_argument("--config-name", help="alternative config in <model>/configs/NAME.pbtxt")
    p.add_argument(
        "--detector", choices=("centernet", "rtdetr", "yolov10"), help="detector network (default: $VDET_DETECTOR or centernet; yolov10 is opt-in, AGPL-3.0)"
    )
    p.set_defaults(func=cmd_serve_models)

    p = sub.add_parser("config", help="print every effective setting and where it came from (default, file, env, flag)")
    p.add_argument("--executor", choices=["local", "ray"], help="as ingest's --executor")
    p.add_argument("--lanes", help="as ingest's --lanes")
    common(p)
    p.set_defaults(func=cmd_config)

    p = sub.add_parser("videos", help="list ingested videos")
    common(p)
    p.set_defaults(func=cmd_videos)

    p = sub.add_parser("mcp", help="serve the library to agents over MCP on stdio: tools videos, events, search, ask, export")
    p.add_argument("--home", help="the home to serve (default $VDET_HOME or ~/.cache/video-detective/home); answered by its app when one runs")
    p.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help="log details to stderr")
    p.set_defaults(func=cmd_mcp)
    from .evaluation import add_parser as add_eval_parser  # noqa: PLC0415

    add_eval_parser(sub)  # eval SUITE.yaml: accuracy, citations and latency of answers
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("interrupted; run the same command again to resume", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - never a traceback for the user; details with -v
        if isinstance(exc, LookupError) or isinstance(exc, user_errors()):  # a busy home or a bad path: said without the heavy imports
            print(f"error: {exc}", file=sys.stderr)
            return 2
        if args.verbose or _debug():
            raise
        print(f"error: {type(exc).__name__}: {exc} (run with -v for details)", file=sys.stderr)
        return 1


def _debug() -> bool:
    from .settings import SettingsError, get_settings  # noqa: PLC0415

    try:
        return get_settings().debug
    except SettingsError:
        return False


def user_errors() -> tuple[type[Exception], ...]:
    """The errors that are the user's to fix, said in one line. Imported only when something failed: the modules
    are heavy, and a command refused at once (a busy home, a directory) should not wait for them."""
    from .graph import StorageError  # noqa: PLC0415
    from .media import MediaError  # noqa: PLC0415
    from .model_clients import ModelError  # noqa: PLC0415
    from .rules import RulesError  # noqa: PLC0415
    from .settings import SettingsError  # noqa: PLC0415
    from .triton_server import TritonStartError  # noqa: PLC0415
    from .weights import WeightsError  # noqa: PLC0415

    return (MediaError, LookupError, WeightsError, ModelError, TritonStartError, RulesError, StorageError, SettingsError)


def exit_now(code: int) -> None:
    """Leave with ``code`` once what was printed is out. After an error, native libraries (DuckDB's nanobind)
    report objects still referenced by the error's frames at interpreter exit ("nanobind: leaked N instances"),
    which would bury the product's one-line error; servers are already stopped by then, so skip that teardown."""
    sys.stdout.flush()
    sys.stderr.flush()
    if code:
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    exit_now(main())
