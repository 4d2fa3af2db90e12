"""The DuckDB event graph: videos, windows (the checkpoint), kept frames, detections, tracks,
events, relations and text embeddings.

One writer process per database file. Everything a window produces is written
in one transaction together with the window's ``done`` status and the pipeline
state needed to resume after it, so a crash leaves either the whole window or
none of it. Rows go in through Arrow/pandas (``executemany`` is very slow in DuckDB).

    graph = EventGraph(home / "events.duckdb")
    graph.write_window(WindowResult(...))
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from .events import Event, Relation

EMBED_DIM = 384

SCHEMA = f"""
CREATE TABLE IF NOT EXISTS videos (
    video_id VARCHAR PRIMARY KEY, name VARCHAR, path VARCHAR, sha256 VARCHAR, size_bytes BIGINT,
    duration_s DOUBLE, width INTEGER, height INTEGER, fps DOUBLE, has_video BOOLEAN, has_audio BOOLEAN,
    info JSON, window_s DOUBLE, n_windows INTEGER, status VARCHAR, error VARCHAR,
    created_at TIMESTAMP DEFAULT current_timestamp, updated_at TIMESTAMP DEFAULT current_timestamp
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
CREATE TABLE IF NOT EXISTS owners (
    video_id VARCHAR, owner VARCHAR, PRIMARY KEY (video_id, owner)
);
CREATE INDEX IF NOT EXISTS events_time ON events (video_id, t_start);
ALTER TABLE windows ADD COLUMN IF NOT EXISTS lanes VARCHAR[];
"""

PER_WINDOW_TABLES = ("frames", "detections", "events", "relations", "embeddings")


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
        return StorageError(f"cannot write the database {path}: {reason} ({text.splitlines()[0][:160]}); "
                            "free some space and run the same command again to resume")
    return None


class EventGraph:
    def __init__(self, path: str | Path, read_only: bool = False):
        self.path = Path(path)
        if not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self.con = duckdb.connect(str(self.path), read_only=read_only)
        if not read_only:
            self.con.execute(SCHEMA)

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
            [video_id, name, path, sha256, info["size_bytes"], info["duration_s"], info["width"], info["height"], info["fps"],
             info["has_video"], info["has_audio"], json.dumps(info), window_s, n_windows],
        )

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
            """SELECT v.video_id, v.name, v.duration_s, v.status, v.n_windows, v.created_at,
                      (SELECT count(*) FROM windows w WHERE w.video_id = v.video_id AND w.status = 'done') AS windows_done
               FROM videos v ORDER BY v.created_at DESC"""
        )
        return [dict(zip([d[0] for d in cur.description], r)) for r in cur.fetchall()]

    # -- windows (checkpoint) ---------------------------------------------------------------
    def done_windows(self, video_id: str) -> list[int]:
        return [r[0] for r in self.con.execute("SELECT idx FROM windows WHERE video_id = ? AND status = 'done' ORDER BY idx", [video_id]).fetchall()]

    def last_state(self, video_id: str) -> tuple[int, bytes] | None:
        """The latest finished window and the pipeline state saved with it."""
        row = self.con.execute(
            "SELECT idx, state FROM windows WHERE video_id = ? AND status = 'done' ORDER BY idx DESC LIMIT 1", [video_id]
        ).fetchone()
        return (row[0], bytes(row[1])) if row else None

    def done_until(self, video_id: str) -> float:
        """How far (seconds) the finished windows of a video reach."""
        return float(self.con.execute("SELECT coalesce(max(t_end), 0) FROM windows WHERE video_id = ? AND status = 'done'", [video_id]).fetchone()[0])

    def frame_totals(self, video_id: str) -> tuple[int, int]:
        """(frames kept, frames scanned) over the finished windows of a video."""
        kept, scanned = self.con.execute(
            "SELECT coalesce(sum(frames_kept), 0), coalesce(sum(frames_scanned), 0) FROM windows WHERE video_id = ?", [video_id]).fetchone()
        return int(kept), int(scanned)

    def window_lanes(self, video_id: str) -> dict[int, list[str]]:
        """Which lanes ran for each finished window (empty for windows written before lanes were recorded)."""
        rows = self.con.execute("SELECT idx, lanes FROM windows WHERE video_id = ? AND status = 'done' ORDER BY idx", [video_id]).fetchall()
        return {int(i): list(lanes or []) for i, lanes in rows}

    def last_event(self, video_id: str, before_window: int) -> Event | None:
        cur = self.con.execute(
            """SELECT id, kind, label, t_start, t_end, confidence, text, track_id, window_idx FROM events
               WHERE video_id = ? AND window_idx < ? ORDER BY t_start DESC, id DESC LIMIT 1""",
            [video_id, before_window],
        )
        row = cur.fetchone()
        if not row:
            return None
        return Event(id=row[0], kind=row[1], label=row[2], t_start=row[3], t_end=row[4], confidence=row[5], text=row[6] or "",
                     track_id=row[7], window_index=row[8])

    def write_window(self, r: WindowResult) -> None:
        """All of a window's rows plus its ``done`` checkpoint, in one transaction (replaces a partial earlier try)."""
        con = self.con
        con.execute("BEGIN TRANSACTION")
        try:
            for table in PER_WINDOW_TABLES:
                con.execute(f"DELETE FROM {table} WHERE video_id = ? AND window_idx = ?", [r.video_id, r.index])
            self._insert("frames", r.video_id, r.index, r.frames)
            self._insert("detections", r.video_id, r.index, r.detections)
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
                rows = [
                    {"id": e.id, "kind": e.kind, "label": e.label, "t_start": e.t_start, "t_end": e.t_end, "confidence": e.confidence,
                     "text": e.text, "track_id": e.track_id, "attrs": json.dumps(e.attrs)}
                    for e in r.events
                ]
                self._insert("events", r.video_id, r.index, rows)
            if r.relations:
                rows = [{"src": x.src, "dst": x.dst, "kind": x.kind, "weight": x.weight} for x in dict.fromkeys(r.relations)]
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
                [r.video_id, r.index, r.t_start, r.t_end, r.frames_scanned, len(r.frames), len(r.detections), len(r.events),
                 round(r.wall_s, 3), r.state, list(r.lanes)],
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
    def events(self, video_id: str, kind: str | None = None) -> list[dict]:
        sql = """SELECT id, kind, label, t_start, t_end, confidence, text, track_id, window_idx, attrs FROM events
                 WHERE video_id = ?"""
        params: list = [video_id]
        if kind:
            sql += " AND kind = ?"
            params.append(kind)
        cur = self.con.execute(sql + " ORDER BY t_start, id", params)
        out = []
        for row in cur.fetchall():
            d = dict(zip([c[0] for c in cur.description], row))
            d["attrs"] = json.loads(d["attrs"]) if d["attrs"] else {}
            out.append(d)
        return out

    def events_between(self, video_id: str, t_from: float, before_window: int | None = None) -> list[dict]:
        """Events (alerts included) ending after ``t_from``, from windows before ``before_window``: the rules' history."""
        sql = "SELECT id, kind, label, t_start, t_end, confidence, text, track_id, window_idx, attrs FROM events WHERE video_id = ? AND t_end >= ?"
        params: list = [video_id, t_from]
        if before_window is not None:
            sql += " AND window_idx < ?"
            params.append(before_window)
        cur = self.con.execute(sql + " ORDER BY t_start, id", params)
        return [dict(zip([c[0] for c in cur.description], row)) for row in cur.fetchall()]

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
                self._insert("events", video_id, idx, [
                    {"id": e.id, "kind": e.kind, "label": e.label, "t_start": e.t_start, "t_end": e.t_end, "confidence": e.confidence,
                     "text": e.text, "track_id": e.track_id, "attrs": json.dumps(e.attrs)} for e in items])
            window_of = {a.id: a.window_index for a in alerts}
            rels: dict[int, list[dict]] = {}
            for r in dict.fromkeys(relations):
                rels.setdefault(window_of.get(r.src, 0), []).append({"src": r.src, "dst": r.dst, "kind": r.kind, "weight": r.weight})
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
                df = pd.DataFrame({"video_id": video_id, "event_id": [e.id for e in scenes], "window_idx": int(last),
                                   "vec": list(vectors.astype(np.float32))})
                self.con.register("scene_emb_df", df)
                self.con.execute(f"INSERT INTO embeddings SELECT video_id, event_id, window_idx, vec::FLOAT[{EMBED_DIM}] FROM scene_emb_df")
                self.con.unregister("scene_emb_df")
            self._insert("events", video_id, int(last), [
                {"id": e.id, "kind": e.kind, "label": e.label, "t_start": e.t_start, "t_end": e.t_end, "confidence": e.confidence,
                 "text": e.text, "track_id": None, "attrs": json.dumps(e.attrs)} for e in scenes])
            self.con.execute("COMMIT")
        except BaseException:
            self.con.execute("ROLLBACK")
            raise

    def counts(self, video_id: str) -> dict[str, int]:
        return dict(self.con.execute("SELECT kind, count(*) FROM events WHERE video_id = ? GROUP BY kind ORDER BY kind", [video_id]).fetchall())
