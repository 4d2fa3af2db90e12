"""The MCP server (``python -m orchestrator mcp``) driven by the official MCP client library over stdio, on a home
nobody holds (its database opened read-only per call). Through a running app that holds the home (with a login):
``test_http_api.py::test_mcp_server_answers_through_the_app``, on that module's app."""

from __future__ import annotations

import asyncio
import json
import os
import sys

from conftest import REPO

TOOLS = {"videos", "events", "search", "ask", "export"}


def call_all(home, env: dict, calls: list[tuple[str, dict]]) -> tuple[set[str], list]:
    """Start the server as an agent would, list its tools and make ``calls``: (tool names, [(is_error, data or text)])."""
    from mcp import Client
    from mcp.client.stdio import StdioServerParameters

    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "orchestrator", "mcp", "--home", str(home)],
        env={**{k: v for k, v in os.environ.items() if k.startswith(("VDET_", "PYTHON"))}, **env},
        cwd=str(REPO),
    )

    async def go():
        async with Client(params) as client:
            names = {t.name for t in (await client.list_tools()).tools}
            out = []
            for name, args in calls:
                r = await client.call_tool(name, args)
                text = " ".join(getattr(c, "text", "") for c in r.content)
                data = r.structured_content.get("result", r.structured_content) if r.structured_content else None
                out.append((r.is_error, text if r.is_error else (data if data is not None else json.loads(text))))
            return names, out

    return asyncio.run(asyncio.wait_for(go(), 300))


def test_tools_on_a_home_nobody_holds(gt_ingested, triton, tmp_path):
    summary, events, _, truth, home = gt_ingested
    vid = summary.video_id
    out = tmp_path / "moments.mp4"
    names, results = call_all(
        home,
        {"TRITON_URL": triton.http_url},
        [
            ("videos", {}),
            ("events", {"video_id": vid, "kind": "speech"}),
            ("search", {"query": "railway station"}),
            ("ask", {"question": "When does the person appear?", "video_id": vid}),
            ("ask", {"question": "which videos have a person?"}),
            ("export", {"video_id": vid, "spans": [[4, 8]], "out": str(out)}),
            ("events", {"video_id": "nope"}),
            ("events", {"video_id": vid, "kind": "explosion"}),
            ("export", {"video_id": vid, "spans": [[9, 3]]}),
        ],
    )
    assert names == TOOLS
    (e0, videos), (e1, speech), (e2, moments), (e3, answer), (e4, library), (e5, clip), (e6, unknown), (e7, kind), (e8, span) = results
    assert not any((e0, e1, e2, e3, e4, e5)), results
    assert [v["video_id"] for v in videos] == [vid] and videos[0]["status"] == "done"
    assert speech and all(e["kind"] == "speech" for e in speech) and "railway station" in speech[0]["text"].lower()
    assert moments[0]["kind"] == "speech" and moments[0]["video_id"] == vid
    first = answer["citations"][0]
    assert "person" in answer["answer"] and truth.person[0] - 1 <= first["t_start"] <= truth.person[1] and f"[{first['time']}]" in answer["answer"]
    assert library["citations"] and library["citations"][0]["video_id"] == vid and "ground_truth.mp4 [" in library["answer"]
    assert clip["file"] == str(out) and out.read_bytes()[4:8] == b"ftyp"
    assert e6 and "unknown video id 'nope'" in unknown and "Traceback" not in unknown
    assert e7 and "one of object, speech" in kind
    assert e8 and "start <= end" in span
