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
