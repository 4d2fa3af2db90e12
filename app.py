#!/usr/bin/env python3
"""Video Detective: the Gradio app.

On its embedded default it starts what it needs — Triton on ``triton_models/`` and a private Redis —
and stops them on exit. With ``TRITON_URL``, ``REDIS_URL`` and ``VLM_BASE_URL`` set it uses those.

    python app.py                     # http://127.0.0.1:7860
    python app.py --share             # also a public Gradio link
    python app.py --host 0.0.0.0 --port 8080 --auth analyst:secret
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from pathlib import Path

from orchestrator.config import default_home


def parse_args(argv=None):
    p = argparse.ArgumentParser(description="Video Detective: ask questions about long videos")
    p.add_argument("--host", default=os.environ.get("VDET_HOST", "127.0.0.1"), help="address to bind (default loopback)")
    p.add_argument("--port", type=int, default=int(os.environ.get("VDET_PORT", "7860")))
    p.add_argument("--share", action="store_true", help="create a public Gradio share link")
    p.add_argument("--home", default=None, help="data folder (default $VDET_HOME or ~/.cache/video-detective/home)")
    p.add_argument("--auth", default=os.environ.get("VDET_AUTH"), help="USER:PASSWORD required to open the page (or VDET_AUTH)")
    p.add_argument("--max-upload-mb", type=float, default=float(os.environ.get("VDET_MAX_UPLOAD_MB", "4096")))
    p.add_argument("--preload", nargs="*", default=[], help="videos to add to the library at start")
    p.add_argument("-v", "--verbose", action="store_true")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    from orchestrator.__main__ import build_vlm
    from orchestrator.pipeline import Services
    from ui.app import CSS, JS, AppState, build_ui
    from ui.library import Library, UploadError, remove_partial_uploads

    home = Path(args.home).expanduser() if args.home else default_home()
    home.mkdir(parents=True, exist_ok=True)
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    print("starting: Triton (models), Redis, database…", file=sys.stderr, flush=True)
    services = Services()
    library = None
    try:
        library = Library(home, services, max_upload_mb=args.max_upload_mb)
        remove_partial_uploads(library.uploads)
        for path in args.preload:
            try:
                video_id, new = library.add_upload(path)
                print(f"library: {Path(path).name} → {video_id} ({'ingesting' if new else 'already there'})", file=sys.stderr)
            except UploadError as exc:
                print(f"library: skipped {path}: {exc}", file=sys.stderr)
        state = AppState(library, services.triton_url, vlm=build_vlm(), per_user=bool(args.auth))
        demo = build_ui(state)
        demo.queue(default_concurrency_limit=8)
        auth = None
        if args.auth:
            if ":" not in args.auth:
                print("error: --auth takes USER:PASSWORD", file=sys.stderr)
                return 2
            user, password = args.auth.split(":", 1)
            auth = [(user, password)]
        demo.launch(server_name=args.host, server_port=args.port, share=args.share, auth=auth, allowed_paths=[str(library.uploads), str(library.home / "exports")],
                    css=CSS, js=JS, max_file_size=f"{int(args.max_upload_mb)}mb", show_error=True, quiet=False)
    except KeyboardInterrupt:
        pass
    finally:
        print("stopping…", file=sys.stderr)
        if library is not None:
            library.close()
        services.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
