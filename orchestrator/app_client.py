"""The read-only commands through the app that holds a home.

While the app writes to a home, DuckDB lets no other process open its database, not even read-only. So
``python -m orchestrator videos|events|ask`` ask the running app instead, through the named API of its page
(``gradio_client``), found through the home's writer record (``homelock``), never a guessed port. With ``--auth``
on the app, the CLI logs in with the first ``user:password`` of ``VDET_AUTH``.
"""

from __future__ import annotations

from pathlib import Path

from .homelock import describe, holder


class AppUnreachable(LookupError):
    """The app holds the home but cannot be asked; the message says why and what to do."""


def app_url(home: Path) -> str | None:
    """The URL of the app writing to ``home``, or None when no app holds it."""
    info = holder(home)
    if info and info.get("role") == "app" and info.get("url"):
        return str(info["url"])
    return None


class AppClient:
    """The app's named API, answering in the shapes the CLI prints from the graph."""

    def __init__(self, home: Path, url: str):
        from gradio_client import Client  # noqa: PLC0415

        from .settings import get_settings  # noqa: PLC0415

        auth = None
        pairs = [p for p in get_settings().auth if ":" in p]
        if pairs:
            user, _, password = pairs[0].strip().partition(":")
            auth = (user, password)
        self.url = url
        try:
            self.client = Client(url, verbose=False, auth=auth)
        except Exception as exc:  # noqa: BLE001 - any failure to reach or log in: one clear line
            who = describe(home, holder(home))
            hint = "set VDET_AUTH=user:password for the CLI too" if "auth" in str(exc).lower() or "login" in str(exc).lower() else "check that it is still up"
            raise AppUnreachable(f"{who} holds {home}, but its page at {url} did not answer ({str(exc)[:120]}); {hint}") from None

    def _call(self, api: str, *args):
        try:
            return self.client.predict(*args, api_name=api)
        except Exception as exc:  # noqa: BLE001 - the app's own error (unknown video, ...) in one line
            raise LookupError(f"the app at {self.url} says: {str(exc).strip()[:300]}") from None

    def videos(self) -> list[dict]:
        return [{**v, "n_windows": v.get("windows")} for v in self._call("/videos")]

    def events(self, video_id: str, kind: str | None) -> list[dict]:
        return self._call("/events", video_id, kind or "all", "", "", "", "")

    def ask(self, video_id: str, question: str, session: str = "", template: str | None = None) -> dict:
        if template:
            return self._call("/template", video_id, template, session)
        return self._call("/ask", video_id, question, session)


def app_auth() -> tuple[str, str] | None:
    """The first ``user:password`` of ``VDET_AUTH``: how the command line and the MCP server sign in to an app with --auth."""
    from .settings import get_settings  # noqa: PLC0415

    pairs = [p for p in get_settings().auth if ":" in p]
    if not pairs:
        return None
    user, _, password = pairs[0].strip().partition(":")
    return user, password


class AppApi:
    """The running app's HTTP API (``/api/v1``, ``ui/http_api.py``) over httpx: everything the page's named API has,
    plus library search, library-wide questions and clip export. Errors are ``LookupError`` with the app's own message."""

    def __init__(self, home: Path, url: str, timeout_s: float = 300):
        import httpx  # noqa: PLC0415

        self.home, self.url = home, url.rstrip("/") + "/"
        self.client = httpx.Client(base_url=self.url, auth=app_auth(), timeout=timeout_s)

    def _call(self, method: str, path: str, **kw):
        import httpx  # noqa: PLC0415

        try:
            r = self.client.request(method, f"api/v1/{path}", **kw)
        except httpx.HTTPError as exc:
            raise AppUnreachable(
                f"{describe(self.home, holder(self.home))} holds {self.home}, but its API at {self.url} did not answer ({exc}); check that it is still up"
            ) from None
        if r.status_code >= 400:
            try:
                detail = r.json().get("detail") or r.text
            except ValueError:
                detail = r.text
            hint = " (set VDET_AUTH=user:password for this process too)" if r.status_code == 401 else ""
            raise LookupError(f"the app at {self.url} says: {str(detail)[:300]}{hint}")
        return r

    def videos(self) -> list[dict]:
        return self._call("GET", "videos").json()

    def events(
        self, video_id: str, kind: str | None = None, label: str | None = None, t_from: str | None = None, t_to: str | None = None, text: str | None = None
    ):
        params = {k: v for k, v in {"kind": kind, "label": label, "from": t_from, "to": t_to, "text": text}.items() if v}
        return self._call("GET", f"videos/{video_id}/events", params=params).json()

    def search(
        self,
        query: str,
        kinds=(),
        labels=(),
        videos: list[str] | None = None,
        limit: int = 20,
        t_from: float | None = None,
        t_to: float | None = None,
        semantic: bool = True,
    ) -> list[dict]:
        params = {"q": query, "kind": list(kinds), "label": list(labels), "limit": limit, "semantic": semantic}
        params.update({k: f"{v:g}" for k, v in (("from", t_from), ("to", t_to)) if v is not None})
        if videos:
            params["videos"] = ",".join(videos)
        return self._call("GET", "search", params=params).json()

    def ask(self, video_id: str, question: str, session: str = "") -> dict:
        return self._call("POST", f"videos/{video_id}/ask", json={"question": question, "session": session or None}).json()

    def ask_library(self, question: str, videos: list[str] | None = None) -> dict:
        return self._call("POST", "library/ask", json={"question": question, "videos": videos or None}).json()

    def export(self, video_id: str, spans: list[tuple[float, float]], out: Path, pad_s: float = 1.0) -> Path:
        r = self._call("POST", f"videos/{video_id}/export", json={"spans": [list(s) for s in spans], "pad_s": pad_s})
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(r.content)
        return out

    def close(self) -> None:
        self.client.close()
