#!/usr/bin/env python3
"""Video Detective: the Gradio app.

On its embedded default it starts what it needs — Triton on ``triton_models/`` and a private Redis —
and stops them on exit. With ``TRITON_URL``, ``REDIS_URL`` and ``VLM_BASE_URL`` set it uses those.

    python app.py                     # http://127.0.0.1:7860
    python app.py --share             # also a public Gradio link
    python app.py --host 0.0.0.0 --port 8080 --auth analyst:secret

Beside the page, the same server answers the HTTP API (``/api/v1/...``, docs at ``/api/docs``) and an
OpenAI-compatible ``/v1/chat/completions`` (``ui/http_api.py``), behind the same users.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from pathlib import Path

from orchestrator.config import default_home
from orchestrator.settings import get_settings, set_flags


def parse_args(argv=None):
    p = argparse.ArgumentParser(description="Video Detective: ask questions about long videos")
    p.add_argument("--host", default=None, help="address to bind (default $VDET_HOST or loopback)")
    p.add_argument("--port", type=int, default=None, help="port (default $VDET_PORT or 7860)")
    p.add_argument("--share", action="store_true", help="create a public Gradio share link")
    p.add_argument("--home", default=None, help="data folder (default $VDET_HOME or ~/.cache/video-detective/home)")
    p.add_argument(
        "--auth", action="append", default=None, help="USER:PASSWORD required to open the page; repeat for several users (or VDET_AUTH, comma-separated)"
    )
    p.add_argument(
        "--users-file", default=None, help="a file of USER:PASSWORD lines, one user each (or VDET_USERS_FILE); each user sees their own uploads and chats"
    )
    p.add_argument("--max-upload-mb", type=float, default=None, help="largest upload in MB (default $VDET_MAX_UPLOAD_MB or 4096)")
    p.add_argument("--preload", nargs="*", default=[], help="videos to add to the library at start")
    p.add_argument("-v", "--verbose", action="store_true")
    args = p.parse_args(argv)
    args.flags = {k: getattr(args, k) for k in ("home", "host", "port", "users_file", "max_upload_mb") if getattr(args, k) is not None}
    settings = get_settings(**args.flags)  # what a flag does not say comes from $VDET_* or the config file
    args.host, args.port, args.max_upload_mb = settings.host, settings.port, settings.max_upload_mb
    args.users_file = str(settings.users_file) if settings.users_file else None
    return args


def read_users(args) -> list[tuple[str, str]] | None:
    """The (user, password) pairs from --auth, VDET_AUTH and --users-file; None when the page is open to all.
    Raises ValueError with a message for the user."""
    pairs = list(args.auth or [])
    if not pairs and get_settings().auth:
        pairs = list(get_settings().auth)
    where = {p: "--auth" for p in pairs}
    if args.users_file:
        try:
            lines = Path(args.users_file).expanduser().read_text().splitlines()
        except OSError as exc:
            raise ValueError(f"cannot read the users file {args.users_file}: {exc.strerror or exc}") from None
        for n, line in enumerate(lines, 1):
            if line.strip() and not line.lstrip().startswith("#"):
                pairs.append(line.strip())
                where[line.strip()] = f"{args.users_file} line {n}"
    if not pairs:
        return None
    users: dict[str, str] = {}
    for pair in pairs:
        user, sep, password = pair.partition(":")
        user = user.strip()
        if not sep or not user or not password:
            raise ValueError(f"{where[pair]}: expected USER:PASSWORD, got {pair.split(':')[0]!r}…")
        if user == "*":
            raise ValueError(f"{where[pair]}: '*' is not a user name (it stands for every user)")
        if user in users:
            raise ValueError(f"{where[pair]}: user {user!r} is given twice")
        users[user] = password
    return list(users.items())


def main(argv=None) -> int:
    try:
        args = parse_args(argv)  # a bad config file or $VDET_* value is said here, in one line
        set_flags(**args.flags)  # the status panel shows these as given by flag
        auth = read_users(args)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    from orchestrator.__main__ import build_vlm
    from orchestrator.homelock import HomeBusy, HomeLock
    from orchestrator.pipeline import Services
    from ui.app import CSS, JS, AppState, build_ui
    from ui.http_api import api_app_kwargs
    from ui.library import EVERYONE, Library, UploadError, remove_partial_uploads

    home = Path(args.home).expanduser() if args.home else default_home()
    home.mkdir(parents=True, exist_ok=True)
    reach = "127.0.0.1" if args.host in ("0.0.0.0", "::", "", "localhost") else args.host
    lock = HomeLock(home, "app", detail=f"port {args.port}", url=f"http://{reach}:{args.port}/")
    try:
        lock.acquire()  # one writer per home: said now, before Triton and Redis start
    except HomeBusy as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    print("starting: Triton (models), Redis, database…", file=sys.stderr, flush=True)
    services = Services()
    library = None
    try:
        library = Library(home, services, max_upload_mb=args.max_upload_mb)
        remove_partial_uploads(library.uploads)
        for line in library.resume_unfinished():  # ingests a killed app left unfinished continue by themselves
            print(f"library: {line}", file=sys.stderr)
        for path in args.preload:
            try:
                # with authentication, preloaded videos belong to every user of this server
                video_id, new = library.add_upload(path, owner=EVERYONE if auth else None)
                print(f"library: {Path(path).name} → {video_id} ({'ingesting' if new else 'already there'})", file=sys.stderr)
            except UploadError as exc:
                print(f"library: skipped {path}: {exc}", file=sys.stderr)
        state = AppState(library, services.triton_url, vlm=build_vlm(), per_user=bool(auth))
        demo = build_ui(state)
        demo.queue(default_concurrency_limit=8)
        print(f"HTTP API: http://{reach}:{args.port}/api/docs (OpenAI-compatible: http://{reach}:{args.port}/v1)", file=sys.stderr, flush=True)
        demo.launch(
            server_name=args.host,
            server_port=args.port,
            share=args.share,
            auth=auth,
            allowed_paths=library.served_paths(),
            css=CSS,
            js=JS,
            max_file_size=f"{int(args.max_upload_mb)}mb",
            show_error=True,
            quiet=False,
            app_kwargs=api_app_kwargs(state, auth),  # the HTTP API (/api/v1, /v1/chat/completions) on the page's own server
        )
    except KeyboardInterrupt:
        pass
    finally:
        print("stopping…", file=sys.stderr)
        if library is not None:
            library.close()
        services.close()
        lock.release()
    return 0


if __name__ == "__main__":
    code = main()
    # everything is stopped and closed by now: leave without the interpreter's teardown, where native libraries
    # (DuckDB's nanobind) print "leaked instances" lines that would bury the app's last message
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
