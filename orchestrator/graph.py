"""The DuckDB event graph: videos, windows (the checkpoint), kept frames, detections, tracks,
events, relations and text embeddings.

One writer process per database file. Everything a window produces is written
in one transaction together with the window's ``done`` status and the pipeline
state needed to resume after it, so a crash leaves either the whole window or
none of it. Rows go in through Arrow/pandas (``executemany`` is very slow in DuckDB).

Reads return ``Event`` and ``Relation`` (``events.py``), the types that were written; the SQL of the
whole product lives here. Filters are data (``Match``, ``Span``), compiled to SQL by the graph.
A thread reads through its own cursor: ``graph.cursor()`` (or ``EventGraph.over(con.cursor())``).

    graph = EventGraph(home / "events.duckdb")
    graph.write_window(WindowResult(...))
    with graph.cursor() as g:
        alarms = g.find_events(video_id, [Match(kinds=("sound",), labels=("alarm",))], Span(0, 60))

>>> m = [Match(kinds=("object",), labels=("car", "bus")), Match(kinds=("speech",), text_like=("%stop%",))]
>>> where_sql(m)
('((kind IN (?) AND label IN (?,?)) OR (kind IN (?) AND (text ILIKE ?)))', ['object', 'car', 'bus', 'speech', '%stop%'])
>>> Span(10, 20).sql(), Span(10, 20, starts_within=True, end_open=True).sql("e.")
(' AND t_end >= ? AND t_start <= ?', ' AND e.t_start >= ? AND e.t_start < ?')
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from .events import Event, Relation

EMBED_DIM = 384
EVENT_COLUMNS = "id, kind, label, t_start, t_end, confidence, text, track_id, window_idx, attrs"
# the attributes a library search reads (``events.py``: how objects look and move, how sounds go)
SEARCH_ATTRS = ("appearance_colours", "colours", "appearance_size", "appearance_motion", "appearance_direction", "pattern", "shape", "tagger_labels")


@dataclass(frozen=True)
class Match:
    """One condition on events, all of its parts at once: the kind is one of ``kinds`` (any kind when empty), the
    label one of ``labels``, and for each ``*_like`` given, any of its ILIKE patterns matches (label, text, either)."""

    kinds: tuple[str, ...] = ()
    labels: tuple[str, ...] | None = None
    label_like: tuple[str, ...] = ()
    text_like: tuple[str, ...] = ()
    label_or_text_like: tuple[str, ...] = ()
    ids: tuple[str, ...] | None = None
    not_kinds: tuple[str, ...] = ()
    never: bool = False  # matches nothing (asked for something this graph cannot hold)

    def sql(self, alias: str = "") -> tuple[str, list]:
        a = alias
        conds: list[str] = []
        params: list = []
        if self.never:
            return "FALSE", []
        if self.kinds:
            conds.append(f"{a}kind IN ({_marks(self.kinds)})")
            params += self.kinds
        if self.not_kinds:
            conds.append(f"{a}kind NOT IN ({_marks(self.not_kinds)})")
            params += self.not_kinds
        if self.labels is not None:
            conds.append(f"{a}label IN ({_marks(self.labels)})" if self.labels else "FALSE")
            params += self.labels
        if self.ids is not None:
            conds.append(f"{a}id IN ({_marks(self.ids)})" if self.ids else "FALSE")
            params += self.ids
        for column, patterns in ((f"{a}label", self.label_like), (f"{a}text", self.text_like)):
            if patterns:
                conds.append("(" + " OR ".join(f"{column} ILIKE ?" for _ in patterns) + ")")
                params += patterns
        if self.label_or_text_like:
            conds.append("(" + " OR ".join(f"({a}label ILIKE ? OR {a}text ILIKE ?)" for _ in self.label_or_text_like) + ")")
            params += [p for p in self.label_or_text_like for _ in (0, 1)]
        return (" AND ".join(conds) or "TRUE"), params


def where_sql(matches: list[Match] | tuple[Match, ...], alias: str = "") -> tuple[str, list]:
    """Events that meet any of ``matches`` (every event when there are none), as a SQL condition and its parameters."""
    if not matches:
        return "TRUE", []
    parts = [m.sql(alias) for m in matches]
    return "(" + " OR ".join(f"({c})" for c, _ in parts) + ")", [p for _, ps in parts for p in ps]


@dataclass(frozen=True)
class Span:
    """A time range: events overlapping [lo, hi], or with ``starts_within`` those starting in it (``end_open``: [lo, hi))."""

    lo: float
    hi: float
    starts_within: bool = False
    end_open: bool = False

    def sql(self, alias: str = "") -> str:
        first = "t_start" if self.starts_within else "t_end"
        return f" AND {alias}{first} >= ? AND {alias}t_start {'<' if self.end_open else '<='} ?"

    def params(self) -> list:
        return [self.lo, self.hi]


def _marks(values) -> str:
    return ",".join("?" * len(values))


ORDERS = {"t_start": "t_start", "t_start desc": "t_start DESC", "t_end desc": "t_end DESC", "confidence desc": "confidence DESC", "t_start, id": "t_start, id"}

SCHEMA = f"""
CREATE TABLE IF NOT EXISTS videos (
    video_id VARCHAR PRIMARY KEY, name VARCHAR, path VARCHAR, sha256 VARCHAR, size_bytes BIGINT,
    duration_s DOUBLE, width INTEGER, height INTEGER, fps DOUBLE, has_video BOOLEAN, has_audio BOOLEAN,
    info JSON, window_s DOUBLE, n_windows INTEGER, status VARCHAR, error VARCHAR,
    created_at TIMESTAMP DEFAULT current_timestamp, updated_at TIMESTAMP DEFAULT current_timestamp,
    recorded_at TIMESTAMP, recorded_from VARCHAR
);
CREATE TABLE IF NOT EXISTS windows (
    video_id VARCHAR, idx INTEGER, t_start DOUBLE, t_end DOUBLE, status VARCHAR,
    frames_scanned INTEGER, frames_kept INTEGER, detections INTEGER, events INTEGER, wall_s DOUBLE,
    state BLOB, finished_at TIMESTAMP, lanes VARCHAR[], PRIMARY KEY (video_id, idx)
);
CREATE TABLE IF NOT EXISTS frames (
    video_id VARCHAR, t DOUBLE, window_idx INTEGER, reason VARCHAR, motion DOUBLE, scene_score DOUBLE,
    PRIMARY KEY (video_id, t)
);
CREATE TABLE IF NOT EXISTS detections (
    video_id VARCHAR, window_idx INTEGER, t DOUBLE, track_id INTEGER, label VARCHAR, confidence DOUBLE,
    x1 DOUBLE, y1 DOUBLE, x2 DOUBLE, y2 DOUBLE
);
CREATE TABLE IF NOT EXISTS tracks (
    video_id VARCHAR, track_id INTEGER, label VARCHAR, first_t DOUBLE, last_t DOUBLE, n_frames INTEGER,
    best_t DOUBLE, best_confidence DOUBLE, best_box DOUBLE[], path JSON, PRIMARY KEY (video_id, track_id)
);
CREATE TABLE IF NOT EXISTS events (
    video_id VARCHAR, id VARCHAR, kind VARCHAR, label VARCHAR, t_start DOUBLE, t_end DOUBLE,
    confidence DOUBLE, text VARCHAR, track_id INTEGER, window_idx INTEGER, attrs JSON,
    PRIMARY KEY (video_id, id)
);
CREATE TABLE IF NOT EXISTS relations (
    video_id VARCHAR, src VARCHAR, dst VARCHAR, kind VARCHAR, weight DOUBLE, window_idx INTEGER,
    PRIMARY KEY (video_id, src, dst, kind)
);
CREATE TABLE IF NOT EXISTS embeddings (
    video_id VARCHAR, event_id VARCHAR, window_idx INTEGER, vec FLOAT[{EMBED_DIM}],
    PRIMARY KEY (video_id, event_id)
);
CREATE TABLE IF NOT EXISTS media_vectors (
    video_id VARCHAR, window_idx INTEGER, space VARCHAR, t_start DOUBLE, t_end DOUBLE,
    event_id VARCHAR, track_id INTEGER, ref VARCHAR, vec FLOAT[]
);
CREATE TABLE IF NOT EXISTS owners (
    video_id VARCHAR, owner VARCHAR, PRIMARY KEY (video_id, owner)
);
CREATE INDEX IF NOT EXISTS events_time ON events (video_id, t_start);
ALTER TABLE windows ADD COLUMN IF NOT EXISTS lanes VARCHAR[];
ALTER TABLE videos ADD COLUMN IF NOT EXISTS recorded_at TIMESTAMP;
ALTER TABLE videos ADD COLUMN IF NOT EXISTS recorded_from VARCHAR;
"""

PER_WINDOW_TABLES = ("frames", "detections", "events", "relations", "embeddings", "media_vectors")


@dataclass
class WindowResult:
    """Everything one window produced, written atomically by ``EventGraph.write_window``."""

    video_id: str
    index: int
    t_start: float
    t_end: float
    frames: list[dict] = field(default_factory=list)  # t, reason, motion, scene_score
    detections: list[dict] = field(default_factory=list)  # t, track_id, label, confidence, x1..y2
    tracks: list[dict] = field(default_factory=list)  # upserted track summaries
    vectors: list[dict] = field(default_factory=list)  # rows of ``media_vectors``: space, t_start, t_end, event_id, track_id, ref, vec
    events: list[Event] = field(default_factory=list)
    relations: list[Relation] = field(default_factory=list)
    embeddings: np.ndarray | None = None  # [n, 384] for the non-alert events, in order
    state: bytes = b""
    frames_scanned: int = 0
    wall_s: float = 0.0
    lanes: tuple[str, ...] = ()  # the lanes that ran for this window


class StorageError(OSError):
    """The database could not be written (disk full, file too large, I/O error); nothing half-written remains."""


def _storage_error(exc: BaseException, path: Path) -> StorageError | None:
    text = str(exc)
    if isinstance(exc, (duckdb.IOException, OSError)) or any(s in text for s in ("No space left", "File too large", "Could not write")):
        reason = "the disk is full" if "space" in text.lower() else "the file system refused the write"
        return StorageError(
            f"cannot write the database {path}: {reason} ({text.splitlines()[0][:160]}); free some space and run the same command again to resume"
        )
    return None


class EventGraph:
    def __init__(self, path: str | Path, read_only: bool = False):
        self.path = Path(path)
        if not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self.con = duckdb.connect(str(self.path), read_only=read_only)
        if not read_only:
            self.con.execute(SCHEMA)

    @classmethod
    def over(cls, con, path: str | Path | None = None) -> EventGraph:
        """The graph on an open DuckDB connection or cursor (one per thread); ``close()`` closes that cursor."""
        graph = cls.__new__(cls)
        graph.path = Path(path) if path is not None else Path(":memory:")
        graph.con = con
        return graph

    def cursor(self) -> EventGraph:
        """The same graph through a cursor of its own, for another thread (DuckDB connections are not shared)."""
        return EventGraph.over(self.con.cursor(), self.path)

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> "EventGraph":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- videos -----------------------------------------------------------------------------
    def upsert_video(self, video_id: str, name: str, path: str, sha256: str, info: dict, window_s: float, n_windows: int) -> None:
        row = self.con.execute("SELECT window_s FROM videos WHERE video_id = ?", [video_id]).fetchone()
        if row is not None and abs(row[0] - window_s) > 1e-9:
            # a different window length invalidates the checkpoints: start this video over
            self.delete_video(video_id)
        self.con.execute(
            """INSERT INTO videos (video_id, name, path, sha256, size_bytes, duration_s, width, height, fps, has_video,
                   has_audio, info, window_s, n_windows, status)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'ingesting')
               ON CONFLICT (video_id) DO UPDATE SET path = excluded.path, name = excluded.name, status =
                   CASE WHEN videos.status = 'done' THEN 'done' ELSE 'ingesting' END, error = NULL,
                   updated_at = now()""",
            [
                video_id,
                name,
                path,
                sha256,
                info["size_bytes"],
                info["duration_s"],
                info["width"],
                info["height"],
                info["fps"],
                info["has_video"],
                info["has_audio"],
                json.dumps(info),
                window_s,
                n_windows,
            ],
        )
        self._place_on_clock(video_id, path, name)

    def _place_on_clock(self, video_id: str, path: str, name: str) -> None:
        """The recording's start (its container's creation_time, else its file name's date and time), unless one was given."""
        from .clock import recording_start  # noqa: PLC0415

        row = self.con.execute("SELECT recorded_from FROM videos WHERE video_id = ?", [video_id]).fetchone()
        if row is None or row[0] == "given":
            return
        at, source = recording_start(path, name)
        self.con.execute("UPDATE videos SET recorded_at = ?, recorded_from = ? WHERE video_id = ?", [at, source, video_id])

    def set_recorded_at(self, video_id: str, at: datetime | None) -> None:
        """Give a video's recording start (naive UTC); None finds it again from the file's metadata or name."""
        if at is None:
            row = self.con.execute("SELECT path, name FROM videos WHERE video_id = ?", [video_id]).fetchone()
            self.con.execute("UPDATE videos SET recorded_from = NULL WHERE video_id = ?", [video_id])
            if row:
                self._place_on_clock(video_id, row[0], row[1])
            return
        self.con.execute("UPDATE videos SET recorded_at = ?, recorded_from = 'given' WHERE video_id = ?", [at, video_id])

    def video_at_path(self, path: str) -> str | None:
        """The id of the video last registered from the file at ``path`` (a resolved path), or None."""
        row = self.con.execute("SELECT video_id FROM videos WHERE path = ? ORDER BY updated_at DESC LIMIT 1", [path]).fetchone()
        return row[0] if row else None

    def _clock_columns(self, alias: str = "") -> str:
        """recorded_at and recorded_from, or NULLs on a home written before they existed and opened read-only."""
        if getattr(self, "_has_clock", None) is None:
            cols = {r[0] for r in self.con.execute("SELECT column_name FROM duckdb_columns() WHERE table_name = 'videos'").fetchall()}
            self._has_clock = "recorded_at" in cols
        a = f"{alias}." if alias else ""
        return f"{a}recorded_at, {a}recorded_from" if self._has_clock else "CAST(NULL AS TIMESTAMP) AS recorded_at, CAST(NULL AS VARCHAR) AS recorded_from"

    def set_video_status(self, video_id: str, status: str, error: str | None = None) -> None:
        self.con.execute("UPDATE videos SET status = ?, error = ?, updated_at = now() WHERE video_id = ?", [status, error, video_id])

    def delete_video(self, video_id: str) -> None:
        self.con.execute("BEGIN")
        for table in ("videos", "windows", "tracks", *PER_WINDOW_TABLES):
            self.con.execute(f"DELETE FROM {table} WHERE video_id = ?", [video_id])
        self.con.execute("COMMIT")

    def video(self, video_id: str) -> dict | None:
        cur = self.con.execute("SELECT * FROM videos WHERE video_id = ?", [video_id])
        row = cur.fetchone()
        return dict(zip([d[0] for d in cur.description], row)) if row else None

    def videos(self) -> list[dict]:
        cur = self.con.execute(
            f"""SELECT v.video_id, v.name, v.duration_s, v.status, v.n_windows, v.created_at, {self._clock_columns("v")},
                      (SELECT count(*) FROM windows w WHERE w.video_id = v.video_id AND w.status = 'done') AS windows_done
               FROM videos v ORDER BY v.created_at DESC"""
        )
        return [dict(zip([d[0] for d in cur.description], r)) for r in cur.fetchall()]

    def library(self, owners: tuple[str, ...] = ()) -> list[dict]:
        """The videos (with ``owners``: those one of them owns), newest first, with where each file is, its status and
        error, and how many windows are done."""
        where = f"WHERE v.video_id IN (SELECT video_id FROM owners WHERE owner IN ({_marks(owners)}))" if owners else ""
        return self._rows(
            f"""SELECT v.video_id, v.name, v.path, v.duration_s, v.status, v.error, v.n_windows, v.created_at,
                                     (SELECT count(*) FROM windows w WHERE w.video_id = v.video_id AND w.status = 'done') AS windows_done
                              FROM videos v {where} ORDER BY v.created_at DESC""",
            list(owners),
        )

    def owned(self, video_id: str, owners: tuple[str, ...]) -> bool:
        """Whether one of ``owners`` owns the video."""
        return bool(self.con.execute(f"SELECT count(*) FROM owners WHERE video_id = ? AND owner IN ({_marks(owners)})", [video_id, *owners]).fetchone()[0])

    def add_owner(self, video_id: str, owner: str) -> None:
        self.con.execute("INSERT OR IGNORE INTO owners VALUES (?, ?)", [video_id, owner])

    # -- windows (checkpoint) ---------------------------------------------------------------
    def done_windows(self, video_id: str) -> list[int]:
        return [r[0] for r in self.con.execute("SELECT idx FROM windows WHERE video_id = ? AND status = 'done' ORDER BY idx", [video_id]).fetchall()]

    def last_state(self, video_id: str) -> tuple[int, bytes] | None:
        """The latest finished window and the pipeline state saved with it."""
        row = self.con.execute("SELECT idx, state FROM windows WHERE video_id = ? AND status = 'done' ORDER BY idx DESC LIMIT 1", [video_id]).fetchone()
        return (row[0], bytes(row[1])) if row else None

    def done_until(self, video_id: str) -> float:
        """How far (seconds) the finished windows of a video reach."""
        return float(self.con.execute("SELECT coalesce(max(t_end), 0) FROM windows WHERE video_id = ? AND status = 'done'", [video_id]).fetchone()[0])

    def frame_totals(self, video_id: str) -> tuple[int, int]:
        """(frames kept, frames scanned) over the finished windows of a video."""
        kept, scanned = self.con.execute(
            "SELECT coalesce(sum(frames_kept), 0), coalesce(sum(frames_scanned), 0) FROM windows WHERE video_id = ?", [video_id]
        ).fetchone()
        return int(kept), int(scanned)

    def window_lanes(self, video_id: str) -> dict[int, list[str]]:
        """Which lanes ran for each finished window (empty for windows written before lanes were recorded)."""
        rows = self.con.execute("SELECT idx, lanes FROM windows WHERE video_id = ? AND status = 'done' ORDER BY idx", [video_id]).fetchall()
        return {int(i): list(lanes or []) for i, lanes in rows}

    def last_event(self, video_id: str, before_window: int) -> Event | None:
        """The latest-starting event of the windows before ``before_window`` (the previous window's last event)."""
        found = self._events(
            f"SELECT {EVENT_COLUMNS} FROM events WHERE video_id = ? AND window_idx < ? ORDER BY t_start DESC, id DESC LIMIT 1", [video_id, before_window]
        )
        return found[0] if found else None

    def write_window(self, r: WindowResult) -> None:
        """All of a window's rows plus its ``done`` checkpoint, in one transaction (replaces a partial earlier try)."""
        con = self.con
        con.execute("BEGIN TRANSACTION")
        try:
            for table in PER_WINDOW_TABLES:
                con.execute(f"DELETE FROM {table} WHERE video_id = ? AND window_idx = ?", [r.video_id, r.index])
            self._insert("frames", r.video_id, r.index, r.frames)
            self._insert("detections", r.video_id, r.index, r.detections)
            self._insert(
                "media_vectors",
                r.video_id,
                r.index,
                [{"event_id": None, "track_id": None, "ref": "", **v, "vec": [float(x) for x in v["vec"]]} for v in r.vectors],
            )
            if r.tracks:
                df = pd.DataFrame(r.tracks)
                df.insert(0, "video_id", r.video_id)
                con.register("tracks_df", df)
                con.execute(
                    """INSERT OR REPLACE INTO tracks SELECT video_id, track_id, label, first_t, last_t, n_frames,
                           best_t, best_confidence, best_box, path FROM tracks_df"""
                )
                con.unregister("tracks_df")
            if r.events:
                rows = [e.to_row() for e in r.events]
                self._insert("events", r.video_id, r.index, rows)
            if r.relations:
                rows = [x.to_row() for x in dict.fromkeys(r.relations)]
                self._insert("relations", r.video_id, r.index, rows, conflict="OR IGNORE")
            embedded = [e for e in r.events if e.kind != "alert"]  # alerts come from rules, not models: found by kind
            if r.embeddings is not None and len(embedded):
                df = pd.DataFrame({"event_id": [e.id for e in embedded], "vec": list(r.embeddings.astype(np.float32))})
                df.insert(0, "video_id", r.video_id)
                df["window_idx"] = r.index
                con.register("emb_df", df)
                con.execute(f"INSERT INTO embeddings SELECT video_id, event_id, window_idx, vec::FLOAT[{EMBED_DIM}] FROM emb_df")
                con.unregister("emb_df")
            con.execute(
                """INSERT OR REPLACE INTO windows (video_id, idx, t_start, t_end, status, frames_scanned, frames_kept, detections,
                   events, wall_s, state, finished_at, lanes) VALUES (?, ?, ?, ?, 'done', ?, ?, ?, ?, ?, ?, now(), ?)""",
                [
                    r.video_id,
                    r.index,
                    r.t_start,
                    r.t_end,
                    r.frames_scanned,
                    len(r.frames),
                    len(r.detections),
                    len(r.events),
                    round(r.wall_s, 3),
                    r.state,
                    list(r.lanes),
                ],
            )
            con.execute("COMMIT")
        except BaseException as exc:
            try:
                con.execute("ROLLBACK")
            except duckdb.Error:
                pass  # the failed COMMIT already ended the transaction; the original error is what matters
            storage = _storage_error(exc, self.path)
            if storage is not None:
                raise storage from exc
            raise

    def _insert(self, table: str, video_id: str, window_idx: int, rows: list[dict], conflict: str = "") -> None:
        if not rows:
            return
        df = pd.DataFrame(rows)
        df.insert(0, "video_id", video_id)
        df["window_idx"] = window_idx
        cols = [r[0] for r in self.con.execute(f"DESCRIBE {table}").fetchall()]
        df = df[[c for c in cols if c in df.columns]]
        name = f"{table}_df"
        self.con.register(name, df)
        self.con.execute(f"INSERT {conflict} INTO {table} ({', '.join(df.columns)}) SELECT * FROM {name}")
        self.con.unregister(name)

    # -- reading ----------------------------------------------------------------------------
    def _rows(self, sql: str, params: list) -> list[dict]:
        cur = self.con.execute(sql, params)
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, r)) for r in cur.fetchall()]

    def _events(self, sql: str, params: list) -> list[Event]:
        return [Event.from_row(r) for r in self._rows(sql, params)]

    def events(self, video_id: str, kind: str | None = None) -> list[dict]:
        """A video's events as plain rows (``attrs`` parsed), in time order: for JSON output. Code reads ``read_events``."""
        return [{**e.to_row(), "attrs": e.attrs} for e in self.read_events(video_id, kind)]

    def read_events(self, video_id: str, kind: str | None = None) -> list[Event]:
        """A video's events (of one kind), in time order."""
        return self.find_events(video_id, [Match(kinds=(kind,))] if kind else [], order="t_start, id")

    def find_events(
        self,
        video_id: str,
        matches: list[Match] | tuple[Match, ...] = (),
        span: Span | None = None,
        *,
        order: str | None = "t_start",
        limit: int | None = None,
        after: float | None = None,
    ) -> list[Event]:
        """Events meeting any of ``matches`` within ``span`` (starting after ``after``), in ``order``
        ('t_start', 't_start desc', 't_end desc', 'confidence desc'; None: as stored), at most ``limit``."""
        where, params = where_sql(matches)
        sql = f"SELECT {EVENT_COLUMNS} FROM events WHERE video_id = ? AND {where}"
        if span is not None:
            sql += span.sql()
            params += span.params()
        if after is not None:
            sql += " AND t_start > ?"
            params.append(after)
        if order is not None:
            sql += f" ORDER BY {ORDERS[order]}"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return self._events(sql, [video_id, *params])

    def events_by_id(self, video_id: str, ids: list[str]) -> list[Event]:
        """The events with these ids (in no particular order; unknown ids are skipped)."""
        return self.find_events(video_id, [Match(ids=tuple(ids))], order=None) if ids else []

    def count_items(self, video_id: str, matches: list[Match], span: Span | None = None) -> int:
        """How many distinct things meet ``matches``: a tracked object is one thing whatever its number of segments."""
        where, params = where_sql(matches)
        sql = f"""SELECT count(DISTINCT CASE WHEN kind = 'object' AND track_id IS NOT NULL THEN 'T' || track_id ELSE id END)
                  FROM events WHERE video_id = ? AND {where}"""
        if span is not None:
            sql, params = sql + span.sql(), params + span.params()
        return int(self.con.execute(sql, [video_id, *params]).fetchone()[0])

    def count_events(self, video_id: str, kind: str, span: Span | None = None) -> int:
        sql, params = "SELECT count(*) FROM events WHERE video_id = ? AND kind = ?", [video_id, kind]
        if span is not None:
            sql, params = sql + span.sql(), params + span.params()
        return int(self.con.execute(sql, params).fetchone()[0])

    def label_counts(self, video_id: str, kind: str, span: Span | None = None) -> dict[str, int]:
        """Events per label of one kind, the most frequent first."""
        sql, params = "SELECT label, count(*) FROM events WHERE video_id = ? AND kind = ?", [video_id, kind]
        if span is not None:
            sql, params = sql + span.sql(), params + span.params()
        return dict(self.con.execute(sql + " GROUP BY label ORDER BY 2 DESC", params).fetchall())

    def kind_labels(self, video_id: str, kinds: tuple[str, ...]) -> list[tuple[str, str]]:
        """The distinct (kind, label) pairs of a video's events of these kinds: what the graph can answer about."""
        return [
            tuple(r)
            for r in self.con.execute(
                f"SELECT DISTINCT kind, label FROM events WHERE video_id = ? AND kind IN ({_marks(kinds)})", [video_id, *kinds]
            ).fetchall()
        ]

    def ingest_state(self, video_id: str) -> tuple[int, int]:
        """(finished windows, events) of a video: changes whenever ingest adds to it."""
        n_done, n_events = self.con.execute(
            "SELECT (SELECT count(*) FROM windows WHERE video_id = ? AND status = 'done'), (SELECT count(*) FROM events WHERE video_id = ?)",
            [video_id, video_id],
        ).fetchone()
        return int(n_done or 0), int(n_events or 0)

    def duration(self, video_id: str) -> float | None:
        """A video's duration in seconds (0 when unknown), None for an unknown video."""
        row = self.con.execute("SELECT duration_s FROM videos WHERE video_id = ?", [video_id]).fetchone()
        return float(row[0] or 0.0) if row else None

    def similar_events(self, video_id: str, vector, span: Span | None = None, kind: str | None = None, limit: int = 24) -> list[tuple[Event, float]]:
        """Events by cosine similarity of their embedded description to ``vector`` (384 floats), the closest first."""
        sql = f"""SELECT {", ".join("e." + c for c in EVENT_COLUMNS.split(", "))}, array_cosine_similarity(m.vec, ?::FLOAT[{EMBED_DIM}]) AS sim
                  FROM embeddings m JOIN events e ON e.video_id = m.video_id AND e.id = m.event_id WHERE m.video_id = ?"""
        params: list = [list(vector), video_id]
        if kind is not None:
            sql, params = sql + " AND e.kind = ?", params + [kind]
        if span is not None:
            sql, params = sql + span.sql("e."), params + span.params()
        rows = self._rows(sql + f" ORDER BY sim DESC LIMIT {int(limit)}", params)
        return [(Event.from_row(r), r["sim"]) for r in rows]

    def media_spaces(self, video_id: str) -> list[str]:
        """The embedding spaces a video has media vectors in (e.g. ``"image_text"``, ``"audio_text"``)."""
        return [r[0] for r in self.con.execute("SELECT DISTINCT space FROM media_vectors WHERE video_id = ? ORDER BY space", [video_id]).fetchall()]

    def nearest_media(self, video_id: str, space: str, vector, span: Span | None = None, limit: int = 24) -> list[dict]:
        """Media vectors of one space (key frames, track crops, sound clips embedded by a zero-shot model) by cosine
        similarity to ``vector`` (a text embedded in the same space), the closest first: rows of ``media_vectors``
        without ``vec``, plus ``sim``."""
        sql = """SELECT t_start, t_end, event_id, track_id, ref, list_cosine_similarity(vec, ?::FLOAT[]) AS sim
                 FROM media_vectors WHERE video_id = ? AND space = ?"""
        params: list = [[float(x) for x in vector], video_id, space]
        if span is not None:
            sql, params = sql + span.sql(), params + span.params()
        return self._rows(sql + f" ORDER BY sim DESC LIMIT {int(limit)}", params)

    def nearest_outside(self, video_id: str, matches: list[Match], lo: float, hi: float, limit: int = 2) -> list[Event]:
        """Events meeting ``matches`` outside [lo, hi], the nearest to it first."""
        where, params = where_sql(matches)
        return self._events(
            f"""SELECT {EVENT_COLUMNS} FROM events WHERE video_id = ? AND {where} AND (t_end < ? OR t_start > ?)
                                ORDER BY least(abs(t_end - ?), abs(t_start - ?)) LIMIT {int(limit)}""",
            [video_id, *params, lo, hi, lo, hi],
        )

    def strongest_per_kind(self, video_id: str, kinds: tuple[str, ...], span: Span, limit: int = 4) -> list[Event]:
        """The most confident event of each kind in ``span``, in time order."""
        return self._events(
            f"""SELECT {EVENT_COLUMNS} FROM (SELECT *, row_number() OVER (PARTITION BY kind ORDER BY confidence DESC) AS rk FROM events
                                WHERE video_id = ? AND kind IN ({_marks(kinds)}){span.sql()}) WHERE rk <= 1
                                ORDER BY t_start LIMIT {int(limit)}""",
            [video_id, *kinds, *span.params()],
        )

    def timeline_ids(self, video_id: str, span: Span, per_window_kind: int = 2, limit: int = 60) -> list[str]:
        """Ids of the most confident events of each kind in each window of ``span``: the timeline spread over the range."""
        rows = self.con.execute(
            f"""SELECT id FROM (SELECT id, kind, confidence, t_start,
                    row_number() OVER (PARTITION BY window_idx, kind ORDER BY confidence DESC) AS rk FROM events
                    WHERE video_id = ?{span.sql()}) WHERE rk <= {int(per_window_kind)} ORDER BY t_start LIMIT {int(limit)}""",
            [video_id, *span.params()],
        ).fetchall()
        return [r[0] for r in rows]

    def track_span(self, video_id: str, track_id: int) -> tuple[float, float]:
        """When a tracked object is first and last in view, over all its segments."""
        t0, t1 = self.con.execute(
            "SELECT min(t_start), max(t_end) FROM events WHERE video_id = ? AND kind = 'object' AND track_id = ?", [video_id, track_id]
        ).fetchone()
        return float(t0), float(t1)

    def object_label_facts(self, video_id: str, labels: list[str], span: Span) -> list[dict]:
        """Per object class in ``span``: distinct tracks, first and last time, time in view, first and last event id."""
        where = f"AND label IN ({_marks(labels)})" if labels else ""
        return self._rows(
            f"""SELECT label, count(DISTINCT track_id) AS tracks, min(t_start) AS first_t, max(t_end) AS last_t,
                       sum(t_end - t_start) AS visible_s, arg_min(id, t_start) AS first_event, arg_max(id, t_end) AS last_event
                FROM events WHERE video_id = ? AND kind = 'object' {where}{span.sql()}
                GROUP BY label ORDER BY tracks DESC, label""",
            [video_id, *labels, *span.params()],
        )

    def most_at_once(self, video_id: str, labels: list[str], lo: float, hi: float) -> dict[str, int]:
        """Per object class, the most distinct tracks detected in one frame between ``lo`` and ``hi``."""
        where = f"AND label IN ({_marks(labels)})" if labels else ""
        return dict(
            self.con.execute(
                f"""SELECT label, max(n) FROM (SELECT label, t, count(DISTINCT track_id) AS n FROM detections
                WHERE video_id = ? AND track_id IS NOT NULL {where} AND t >= ? AND t <= ? GROUP BY label, t) GROUP BY label""",
                [video_id, *labels, lo, hi],
            ).fetchall()
        )

    # -- reports (the analysis templates) ----------------------------------------------------
    def track_summaries(self, video_id: str) -> list[dict]:
        """One row per tracked object: track_id, label, t_start, t_end, conf (its best) and id (its most confident event)."""
        return self._rows(
            """SELECT track_id, label, min(t_start) AS t_start, max(t_end) AS t_end, max(confidence) AS conf,
                                 arg_max(id, confidence) AS id FROM events WHERE video_id = ? AND kind = 'object'
                                 GROUP BY track_id, label ORDER BY t_start""",
            [video_id],
        )

    def overlapping_objects(self, video_id: str, label: str, others: tuple[str, ...], limit: int = 10) -> list[dict]:
        """Moments a ``label`` object is in view together with one of ``others``: pid, vid, vlabel, t (when both are)."""
        return self._rows(
            f"""SELECT p.id AS pid, v.id AS vid, v.label AS vlabel, greatest(p.t_start, v.t_start) AS t FROM events p
                              JOIN events v ON v.video_id = p.video_id AND v.kind = 'object' AND v.label IN ({_marks(others)})
                              AND v.t_start <= p.t_end AND v.t_end >= p.t_start
                              WHERE p.video_id = ? AND p.kind = 'object' AND p.label = ? ORDER BY t LIMIT {int(limit)}""",
            [*others, video_id, label],
        )

    def events_per_minute(self, video_id: str) -> list[dict]:
        """Per minute of video: minute, n (events), tracks (distinct), id (its most confident event), t (its first start)."""
        return self._rows(
            """SELECT floor(t_start / 60) AS minute, count(*) AS n, count(DISTINCT track_id) AS tracks,
                                 arg_max(id, confidence) AS id, min(t_start) AS t FROM events WHERE video_id = ? GROUP BY 1 ORDER BY 1""",
            [video_id],
        )

    def still_windows(self, video_id: str) -> list[tuple[float, float]]:
        """(t_start, t_end) of the finished windows in which the motion gate kept no frame for motion or a scene cut."""
        rows = self.con.execute(
            """SELECT w.t_start, w.t_end FROM windows w WHERE w.video_id = ? AND w.status = 'done' AND NOT EXISTS
                                   (SELECT 1 FROM frames f WHERE f.video_id = w.video_id AND f.window_idx = w.idx AND f.reason IN ('motion','scene_cut'))
                                   ORDER BY w.t_start""",
            [video_id],
        ).fetchall()
        return [(float(a), float(b)) for a, b in rows]

    def recurring(self, video_id: str, kinds: tuple[str, ...], min_n: int = 2, limit: int = 8) -> list[dict]:
        """(kind, label) pairs seen at least ``min_n`` times: n, first_t, last_t, times (starts, in order), id (the first)."""
        return self._rows(
            f"""SELECT kind, label, count(*) AS n, min(t_start) AS first_t, max(t_start) AS last_t,
                                  list(t_start ORDER BY t_start) AS times, arg_min(id, t_start) AS id FROM events
                              WHERE video_id = ? AND kind IN ({_marks(kinds)}) GROUP BY kind, label HAVING count(*) >= {int(min_n)}
                              ORDER BY n DESC LIMIT {int(limit)}""",
            [video_id, *kinds],
        )

    def frequent_sequences(self, video_id: str, min_n: int = 2, limit: int = 6) -> list[dict]:
        """Label a followed by a different label b (``precedes``) at least ``min_n`` times: a, b, n, t (the first), id."""
        return self._rows(
            f"""SELECT a.label AS a, b.label AS b, count(*) AS n, min(a.t_start) AS t, arg_min(a.id, a.t_start) AS id
                              FROM relations r JOIN events a ON a.video_id = r.video_id AND a.id = r.src
                              JOIN events b ON b.video_id = r.video_id AND b.id = r.dst
                              WHERE r.video_id = ? AND r.kind = 'precedes' AND a.label <> b.label GROUP BY 1, 2 HAVING count(*) >= {int(min_n)}
                              ORDER BY n DESC LIMIT {int(limit)}""",
            [video_id],
        )

    def relations(self, video_id: str, kind: str | None = None) -> list[Relation]:
        """A video's relations (of one kind)."""
        sql, params = "SELECT src, dst, kind, weight FROM relations WHERE video_id = ?", [video_id]
        if kind:
            sql, params = sql + " AND kind = ?", params + [kind]
        return [Relation.from_row(r) for r in self._rows(sql, params)]

    def events_between(self, video_id: str, t_from: float, before_window: int | None = None) -> list[Event]:
        """Events (alerts included) ending after ``t_from``, from windows before ``before_window``: the rules' history."""
        sql = f"SELECT {EVENT_COLUMNS} FROM events WHERE video_id = ? AND t_end >= ?"
        params: list = [video_id, t_from]
        if before_window is not None:
            sql += " AND window_idx < ?"
            params.append(before_window)
        return self._events(sql + " ORDER BY t_start, id", params)

    def detections_for_tracks(self, video_id: str, track_ids: list[int]) -> list[dict]:
        if not track_ids:
            return []
        cur = self.con.execute(
            f"SELECT t, track_id, label, confidence, x1, y1, x2, y2 FROM detections WHERE video_id = ? AND track_id IN ({','.join('?' * len(track_ids))})",
            [video_id, *track_ids],
        )
        return [dict(zip([c[0] for c in cur.description], row)) for row in cur.fetchall()]

    def replace_alerts(self, video_id: str, alerts: list[Event], relations: list[Relation]) -> None:
        """Swap a video's alerts for new ones in one transaction (rules re-run over a finished video)."""
        con = self.con
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute("DELETE FROM relations WHERE video_id = ? AND kind = 'triggered_by'", [video_id])
            con.execute("DELETE FROM events WHERE video_id = ? AND kind = 'alert'", [video_id])
            by_window: dict[int, list[Event]] = {}
            for a in alerts:
                by_window.setdefault(a.window_index, []).append(a)
            for idx, items in by_window.items():
                self._insert("events", video_id, idx, [e.to_row() for e in items])
            window_of = {a.id: a.window_index for a in alerts}
            rels: dict[int, list[dict]] = {}
            for r in dict.fromkeys(relations):
                rels.setdefault(window_of.get(r.src, 0), []).append(r.to_row())
            for idx, rows in rels.items():
                self._insert("relations", video_id, idx, rows, conflict="OR IGNORE")
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise

    def write_scenes(self, video_id: str, scenes: list[Event], vectors: np.ndarray | None = None) -> None:
        """Replace a video's scene segments (derived from cuts and events; rebuilt when ingest finishes)."""
        self.con.execute("BEGIN TRANSACTION")
        try:
            self.con.execute("DELETE FROM embeddings WHERE video_id = ? AND event_id LIKE 'scene-%'", [video_id])
            self.con.execute("DELETE FROM events WHERE video_id = ? AND kind = 'scene'", [video_id])
            last = self.con.execute("SELECT coalesce(max(idx), 0) FROM windows WHERE video_id = ?", [video_id]).fetchall()[0][0]
            if vectors is not None and len(scenes):
                df = pd.DataFrame({"video_id": video_id, "event_id": [e.id for e in scenes], "window_idx": int(last), "vec": list(vectors.astype(np.float32))})
                self.con.register("scene_emb_df", df)
                self.con.execute(f"INSERT INTO embeddings SELECT video_id, event_id, window_idx, vec::FLOAT[{EMBED_DIM}] FROM scene_emb_df")
                self.con.unregister("scene_emb_df")
            self._insert("events", video_id, int(last), [{**e.to_row(), "track_id": None} for e in scenes])
            self.con.execute("COMMIT")
        except BaseException:
            self.con.execute("ROLLBACK")
            raise

    def kept_frame_times(self, video_id: str, t0: float, t1: float) -> list[float]:
        """Times of the frames the ingest kept (the motion gate's) in [t0, t1], in order."""
        rows = self.con.execute("SELECT t FROM frames WHERE video_id = ? AND t >= ? AND t <= ? ORDER BY t", [video_id, t0, t1]).fetchall()
        return [float(r[0]) for r in rows]

    def replace_grounding(self, video_id: str, prompt: str, events: list[Event], vectors: np.ndarray | None = None) -> None:
        """Replace the events an earlier grounding run of ``prompt`` wrote (``orchestrator/grounding.py``: object events
        with ``attrs.source = 'grounding'`` and that ``attrs.prompt``) and their description embeddings, in one
        transaction. They belong to no window (``window_idx`` -1): re-ingesting a window leaves them alone."""
        if any(e.attrs.get("source") != "grounding" or e.attrs.get("prompt") != prompt for e in events):
            raise ValueError(f"replace_grounding: every event needs attrs source='grounding' and prompt={prompt!r}")
        if vectors is not None and len(vectors) != len(events):
            raise ValueError(f"replace_grounding: {len(events)} events but {len(vectors)} vectors")
        con = self.con
        con.execute("BEGIN TRANSACTION")
        try:
            old = "SELECT id FROM events WHERE video_id = ? AND kind = 'object' AND attrs->>'source' = 'grounding' AND attrs->>'prompt' = ?"
            con.execute(f"DELETE FROM embeddings WHERE video_id = ? AND event_id IN ({old})", [video_id, video_id, prompt])
            con.execute(f"DELETE FROM events WHERE video_id = ? AND id IN ({old})", [video_id, video_id, prompt])
            if events:
                self._insert("events", video_id, -1, [{**e.to_row(), "window_idx": -1} for e in events])
            if vectors is not None and len(events):
                df = pd.DataFrame({"video_id": video_id, "event_id": [e.id for e in events], "window_idx": -1, "vec": list(np.asarray(vectors, np.float32))})
                con.register("grounding_emb_df", df)
                con.execute(f"INSERT INTO embeddings SELECT video_id, event_id, window_idx, vec::FLOAT[{EMBED_DIM}] FROM grounding_emb_df")
                con.unregister("grounding_emb_df")
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise

    def counts(self, video_id: str) -> dict[str, int]:
        return dict(self.con.execute("SELECT kind, count(*) FROM events WHERE video_id = ? GROUP BY kind ORDER BY kind", [video_id]).fetchall())

    # -- the library: every video of the home at once ---------------------------------------------
    def select_videos(self, ids: tuple[str, ...] = (), names: tuple[str, ...] = (), since: str | None = None, until: str | None = None) -> list[dict]:
        """The videos whose id is one of ``ids`` or whose name is one of ``names`` (case-insensitive; every video when both
        are empty), ingested on or after ``since`` and before ``until`` (ISO dates), in name order."""
        sql, params = f"SELECT video_id, name, path, duration_s, status, n_windows, created_at, {self._clock_columns()} FROM videos WHERE TRUE", []
        if ids or names:
            sql += f" AND (video_id IN ({_marks(ids) or 'NULL'}) OR lower(name) IN ({_marks(names) or 'NULL'}))"
            params += [*ids, *(n.lower() for n in names)]
        if since:
            sql, params = sql + " AND created_at >= CAST(? AS TIMESTAMP)", params + [since]
        if until:
            sql, params = sql + " AND created_at < CAST(? AS TIMESTAMP)", params + [until]
        return self._rows(sql + " ORDER BY name, video_id", params)

    def search_events(
        self,
        video_ids: list[str],
        terms: list[tuple[str, tuple[str, ...]]],
        matches: list[Match] | tuple[Match, ...] = (),
        span: Span | None = None,
        limit: int = 100,
    ) -> list[tuple[str, Event, float]]:
        """(video_id, event, score) for the events of ``video_ids`` that match any of ``terms`` and any of ``matches``, the best first.

        A term is an ILIKE pattern and the labels it names: it scores 1 when the event's label is one of those labels or its label
        or text (speech, on-screen text, a scene's description) matches the pattern, 0.8 when only an attribute does (an object's
        colours, size, motion; a sound's pattern or shape; the tagger's labels). The score is the sum over the terms."""
        if not video_ids or not terms:
            return []
        attr_text = "concat_ws(' ', " + ", ".join(f"json_extract_string(attrs, '$.{k}')" for k in SEARCH_ATTRS) + ")"
        parts, params = [], []
        for pattern, labels in terms:
            named = f"label IN ({_marks(labels)}) OR " if labels else ""
            parts.append(f"(CASE WHEN {named}label ILIKE ? OR text ILIKE ? THEN 1.0 WHEN attr_text ILIKE ? THEN 0.8 ELSE 0.0 END)")
            params += [*labels, pattern, pattern, pattern]
        where, where_params = where_sql(matches)
        inner = f"""SELECT video_id, {EVENT_COLUMNS}, {attr_text} AS attr_text FROM events
                    WHERE video_id IN ({_marks(video_ids)}) AND kind <> 'alert' AND {where}"""
        inner_params = [*video_ids, *where_params]
        if span is not None:
            inner, inner_params = inner + span.sql(), inner_params + span.params()
        sql = f"""SELECT * FROM (SELECT video_id, {EVENT_COLUMNS}, {" + ".join(parts)} AS score FROM ({inner}))
                  WHERE score > 0 ORDER BY score DESC, confidence DESC, video_id, t_start LIMIT {int(limit)}"""
        rows = self._rows(sql, [*params, *inner_params])
        return [(r["video_id"], Event.from_row(r), float(r["score"])) for r in rows]

    def similar_library_events(
        self, video_ids: list[str], vector, matches: list[Match] | tuple[Match, ...] = (), span: Span | None = None, limit: int = 50
    ) -> list[tuple[str, Event, float]]:
        """(video_id, event, cosine similarity to ``vector``) over the embedded events of ``video_ids``, the closest first."""
        if not video_ids:
            return []
        # the closest ids first (only the filters' columns are read for every row), then those few events whole
        filtered = bool(matches) or span is not None
        where, where_params = where_sql(matches, "e.")
        scored = f"""SELECT m.video_id, m.event_id, array_cosine_similarity(m.vec, ?::FLOAT[{EMBED_DIM}]) AS sim FROM embeddings m
                     {"JOIN events e ON e.video_id = m.video_id AND e.id = m.event_id" if filtered else ""}
                     WHERE m.video_id IN ({_marks(video_ids)}){f" AND {where}" if filtered else ""}"""
        params: list = [list(vector), *video_ids, *(where_params if filtered else [])]
        if span is not None:
            scored, params = scored + span.sql("e."), params + span.params()
        sql = f"""SELECT e.video_id, {", ".join("e." + c for c in EVENT_COLUMNS.split(", "))}, top.sim FROM
                  ({scored} ORDER BY sim DESC LIMIT {int(limit)}) top JOIN events e ON e.video_id = top.video_id AND e.id = top.event_id
                  ORDER BY top.sim DESC, e.video_id, e.t_start"""
        rows = self._rows(sql, params)
        return [(r["video_id"], Event.from_row(r), float(r["sim"])) for r in rows]
