"""Event graphs written directly (no models): fast tests of question reading, retrieval and answers.

``clip_graph()`` is an 80 s scene with exact truth; ``long_graph()`` a 2-hour one with speech at known
hours. ``bag_embed`` is a deterministic text embedder (hashed bag of words), enough to exercise the
planner's by-meaning paths without Triton.
"""

from __future__ import annotations

import hashlib
import json
import re

import duckdb
import numpy as np

from orchestrator.graph import SCHEMA

EMBED_DIM = 384


def bag_embed(texts: list[str]) -> np.ndarray:
    out = np.zeros((len(texts), EMBED_DIM), np.float32)
    for i, t in enumerate(texts):
        for w in re.findall(r"[a-z]+", t.lower()):
            w = w[:-1] if w.endswith("s") and len(w) > 3 else w
            out[i, int(hashlib.md5(w.encode()).hexdigest(), 16) % EMBED_DIM] += 1.0
        n = np.linalg.norm(out[i])
        if n:
            out[i] /= n
    return out


def _graph(video_id: str, duration: float, events: list[tuple], embed=bag_embed) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(":memory:")
    con.execute(SCHEMA)
    add_video(con, video_id, duration, events, embed)
    return con


def add_video(con, video_id: str, duration: float, events: list[tuple], embed=bag_embed, name: str | None = None) -> None:
    """One video's rows (videos, windows, events, detections of its objects, embeddings) written into ``con``."""
    n_win = int(duration // 20) + (1 if duration % 20 else 0)
    con.execute(
        "INSERT INTO videos (video_id, name, path, duration_s, n_windows, status, window_s) VALUES (?, ?, ?, ?, ?, 'done', 20)",
        [video_id, name or f"{video_id}.mp4", f"/media/{name or video_id + '.mp4'}", duration, n_win],
    )
    for i in range(n_win):
        con.execute(
            "INSERT INTO windows (video_id, idx, t_start, t_end, status) VALUES (?, ?, ?, ?, 'done')", [video_id, i, i * 20.0, min(duration, (i + 1) * 20.0)]
        )
    for ev in events:
        eid, kind, label, t0, t1, text, track, attrs = (list(ev) + [None] * 8)[:8]
        con.execute(
            "INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, 0.9, ?, ?, ?, ?)",
            [video_id, eid, kind, label, t0, t1, text or "", track, int(t0 // 20), json.dumps(attrs or {})],
        )
        if kind == "object":  # a detection a second, in one statement
            con.execute(
                "INSERT INTO detections SELECT ?, CAST(floor(t / 20) AS INTEGER), t, ?, ?, 0.9, 0, 0, 1, 1 FROM (SELECT unnest(?::DOUBLE[]) AS t)",
                [video_id, track, label, [float(t) for t in np.arange(t0, t1 + 1e-6, 1.0)]],
            )
    rows = con.execute("SELECT id, kind, label, text, t_start, t_end FROM events WHERE video_id = ?", [video_id]).fetchall()
    texts = [f"{k} {lab} {txt}" for _, k, lab, txt, _, _ in rows]
    if texts and embed is not None:
        vecs = embed(texts)
        for (eid, *_), v in zip(rows, vecs):
            con.execute(f"INSERT INTO embeddings VALUES (?, ?, 0, ?::FLOAT[{EMBED_DIM}])", [video_id, eid, v.tolist()])


# the 80 s scene: (id, kind, label, t_start, t_end, text, track_id, attrs)
CLIP_EVENTS = [
    ("object:1", "object", "person", 4.0, 12.0, "", 1, {"colours": ["blue"]}),
    ("speech:1", "speech", "speech", 18.5, 21.9, "The red car is parked near the old railway station.", None, None),
    ("cut:1", "scene_cut", "scene cut", 25.0, 25.0, "", None, None),
    ("object:2", "object", "car", 26.0, 34.0, "", 2, {"appearance_colours": ["white"], "appearance_motion": "moving", "appearance_direction": "left"}),
    ("sound:1", "sound", "ringing", 32.99, 36.0, "", None, {"pattern": "2 rings", "n_bursts": 2}),
    ("speech:2", "speech", "speech", 37.2, 39.5, "Hello, who is calling?", None, None),
    ("text:1", "text", "EXIT", 40.0, 55.0, "EXIT", None, None),
    ("object:3", "object", "person", 44.0, 52.0, "", 3, None),
    ("sound:2", "sound", "alarm", 60.0, 66.0, "", None, {"pattern": "6 beeps, 1.0 s apart", "n_bursts": 6}),
    ("speech:3", "speech", "speech", 68.0, 71.0, "Everyone please leave the building now.", None, None),
    ("object:4", "object", "car", 70.0, 78.0, "", 4, {"appearance_colours": ["dark red", "black"]}),
    ("speech:4", "speech", "speech", 76.0, 79.0, "Goodbye and thank you.", None, None),
]
CLIP_DURATION = 80.0


def clip_graph(embed=bag_embed) -> tuple[duckdb.DuckDBPyConnection, str]:
    return _graph("clip", CLIP_DURATION, CLIP_EVENTS, embed), "clip"


LONG_EVENTS = [
    ("speech:a", "speech", "speech", 300.0, 304.0, "Welcome to the evening shift briefing.", None, None),
    ("object:a", "object", "person", 1860.0, 1875.0, "", 1, None),
    ("sound:a", "sound", "siren", 1864.99, 1874.0, "", None, None),
    ("speech:b", "speech", "speech", 3700.0, 3705.0, "The delivery truck is late again.", None, None),
    ("speech:c", "speech", "speech", 7485.0, 7490.0, "Check the loading dock before midnight.", None, None),
    ("speech:d", "speech", "speech", 7590.0, 7594.0, "That is all for tonight, good night.", None, None),
]
LONG_DURATION = 7600.0


def long_graph(embed=bag_embed) -> tuple[duckdb.DuckDBPyConnection, str]:
    return _graph("long", LONG_DURATION, LONG_EVENTS, embed), "long"


# a library of three videos in one home: two cameras and an interview (id, name, duration, events)
LIBRARY_VIDEOS = [
    (
        "cam1",
        "cam1.mp4",
        3600.0,
        [
            ("object:1", "object", "person", 120.0, 150.0, "", 1, {"appearance_colours": ["blue"]}),
            ("object:2", "object", "car", 843.0, 870.0, "", 2, {"appearance_colours": ["white"], "appearance_motion": "moving"}),
            ("object:2b", "object", "car", 870.0, 890.0, "", 2, {"appearance_colours": ["white"], "appearance_motion": "moving"}),
            ("sound:1", "sound", "dog bark", 2000.0, 2003.0, "", None, {"pattern": "3 barks"}),
            ("object:3", "object", "dog", 2001.0, 2030.0, "", 3, {"appearance_colours": ["brown"]}),
        ],
    ),
    (
        "cam2",
        "cam2.mp4",
        3600.0,
        [
            (
                "object:1",
                "object",
                "truck",
                843.0,
                880.0,
                "",
                1,
                {"appearance_colours": ["white"], "appearance_motion": "moving", "appearance_direction": "left"},
            ),
            ("text:1", "text", "ACME DELIVERIES", 845.0, 870.0, "ACME DELIVERIES", None, None),
            ("object:2", "object", "person", 900.0, 960.0, "", 2, None),
            ("object:3", "object", "car", 1500.0, 1520.0, "", 3, {"appearance_colours": ["black"]}),
            ("scene:1", "scene", "scene", 800.0, 1000.0, "A white truck stops by the gate and a person carries a parcel.", None, None),
        ],
    ),
    (
        "int1",
        "interview.mp4",
        1200.0,
        [
            ("speech:1", "speech", "speech", 60.0, 66.0, "Thanks for coming in to talk about the delivery.", None, None),
            ("speech:2", "speech", "speech", 300.0, 306.0, "The delivery arrived two hours late and the box was crushed.", None, None),
            ("speech:3", "speech", "speech", 700.0, 704.0, "We walked the dog along the river afterwards.", None, None),
            ("object:1", "object", "person", 0.0, 1200.0, "", 1, None),
        ],
    ),
]


def library_graph(embed=bag_embed) -> duckdb.DuckDBPyConnection:
    """Three videos in one graph: a dog only in cam1 (seen and heard), a white truck in cam2 (a white car in cam1), the
    delivery talked about only in the interview."""
    con = duckdb.connect(":memory:")
    con.execute(SCHEMA)
    for vid, name, duration, events in LIBRARY_VIDEOS:
        add_video(con, vid, duration, events, embed, name)
    return con
