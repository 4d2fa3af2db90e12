"""Open-vocabulary grounding: boxes for things COCO lacks ("forklift", "ladder", "open boot"), on demand.

The ingest's detector knows 80 COCO classes. When a question, a rule or a template's watch list names something
else, Grounding DINO (the Triton model ``grounder``, served only where its weights are) is run over the kept
frames of just the spans that matter: at most one frame a second per span and ``MAX_FRAMES_PER_SPAN`` in all, so
its cost follows the spans asked about, not the video's length. Boxes over the threshold are linked across a
span's frames (supervision's IoU, an optimal assignment per phrase) into one ``object`` event per thing per span,
with ``attrs`` ``source="grounding"``, the ``prompt`` and the best ``box``; the events and their description
embeddings are written outside any window (``EventGraph.replace_grounding``), replacing an earlier run of the same
prompt, so the timeline, search, questions and rules see them like any other object.

    python -m orchestrator ground VIDEO_ID forklift ladder --span 10-40

>>> normalise_prompt(["ladder.", "Forklift", " open boot ", "ladder"])
'forklift. ladder. open boot.'
>>> parse_span("0:10-0:40"), parse_span("12.5-18")
((10.0, 40.0), (12.5, 18.0))
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .events import Event

log = logging.getLogger(__name__)

MODEL = "grounder"
WEIGHTS_ENV = "VDET_GROUNDER_PATH"  # a transformers-format Grounding DINO folder (config.json, weights, processor files)
FRAME_STEP_S = 1.0  # at most one frame a second of a span is grounded
MAX_FRAMES_PER_SPAN = 30  # and at most this many per span (spread evenly over it)
LINK_IOU = 0.3  # a box continues a thing seen in an earlier frame from this IoU with its last box
MAX_GAP_S = 3.0  # ... if that thing was seen at most this long before
NMS_IOU = 0.5  # boxes of one phrase in one frame overlapping this much are one box


class GroundingError(LookupError):
    """Grounding cannot run as asked (no grounder served, a bad span, an empty prompt); the message says what to do."""


def weights_dir() -> Path:
    """Where the grounder's weights are: ``$VDET_GROUNDER_PATH``, else ``<models>/grounder``."""
    from . import weights  # noqa: PLC0415
    from .settings import get_settings  # noqa: PLC0415

    explicit = get_settings().grounder_path
    return Path(explicit).expanduser() if explicit else weights.models_dir() / "grounder"


def weights_present() -> bool:
    return (weights_dir() / "config.json").is_file()


def not_served_message(triton_url: str | None = None) -> str:
    where = f"Triton at {triton_url} does not serve the grounder" if triton_url else "the grounder is not served"
    return (
        f"{where}: put a transformers-format Grounding DINO folder (e.g. grounding-dino-tiny saved with save_pretrained) in "
        f"{weights_dir()} or name it with {WEIGHTS_ENV}, then run again (with TRITON_URL: restart that server with it)"
    )


def normalise_prompt(phrases: Iterable[str]) -> str:
    """One prompt in Grounding DINO's form: lower-case phrases, each once, in order (the same things asked for in
    another order are the same prompt, and a run of them replaces the earlier one), each ending in a full stop."""
    seen = {p.strip().lower() for raw in phrases for p in str(raw).replace("\n", ".").split(".") if p.strip()}
    return " ".join(f"{p}." for p in sorted(seen))


def prompt_phrases(prompt: str) -> list[str]:
    return [p.strip() for p in prompt.split(".") if p.strip()]


def parse_span(text: str) -> tuple[float, float]:
    """``START-END`` in seconds or ``mm:ss`` / ``h:mm:ss``; a clear error otherwise."""
    parts = text.strip().split("-")
    if len(parts) != 2:
        raise GroundingError(f"--span takes START-END in seconds or mm:ss, e.g. 10-40 or 1:05-1:30; got {text!r}")
    try:
        a, b = (sum(float(x) * 60**i for i, x in enumerate(reversed(p.split(":")))) for p in parts)
    except ValueError:
        raise GroundingError(f"--span takes START-END in seconds or mm:ss, e.g. 10-40 or 1:05-1:30; got {text!r}") from None
    if not b > a >= 0:
        raise GroundingError(f"--span {text!r}: START must be at least 0 and before END")
    return a, b


def check_spans(spans: Sequence[tuple[float, float]], duration_s: float) -> list[tuple[float, float]]:
    """The spans clipped to the video; one starting after its end is an error."""
    out = []
    for a, b in spans:
        if a >= duration_s:
            raise GroundingError(f"span {a:g}-{b:g} s starts after the video ends ({duration_s:.1f} s): give a span inside it")
        out.append((a, min(b, duration_s)))
    return out


def frame_times(kept: Sequence[float], span: tuple[float, float], step_s: float = FRAME_STEP_S, cap: int = MAX_FRAMES_PER_SPAN) -> list[float]:
    """The times of a span to ground: its kept frames (the ingest's motion gate), at least ``step_s`` apart, at most
    ``cap`` spread evenly; a span with no kept frame gets one a ``step_s`` from its start.

    >>> frame_times([0.0, 0.2, 0.5, 1.1, 1.3, 2.4, 9.0], (0.0, 5.0))
    [0.0, 1.1, 2.4]
    >>> frame_times([], (10.0, 13.5))
    [10.0, 11.0, 12.0, 13.0]
    >>> frame_times([float(t) for t in range(100)], (0.0, 100.0), cap=4)
    [0.0, 33.0, 66.0, 99.0]
    """
    a, b = span
    times: list[float] = []
    for t in sorted(t for t in kept if a <= t <= b):
        if not times or t - times[-1] >= step_s - 1e-6:
            times.append(float(t))
    if not times:
        times = [float(t) for t in np.arange(a, b, step_s)] or [a]
    if len(times) > cap:
        times = [times[int(i)] for i in np.linspace(0, len(times) - 1, cap).round()]
    return times


# -- the model ------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FrameBoxes:
    """What the grounder found in one frame: boxes (normalised x1, y1, x2, y2), their scores and phrases."""

    t: float
    boxes: np.ndarray  # [n, 4] float32
    scores: np.ndarray  # [n]
    phrases: tuple[str, ...]

    def __post_init__(self) -> None:
        n = len(self.phrases)
        if self.boxes.shape != (n, 4) or self.scores.shape != (n,):
            raise ValueError(f"FrameBoxes: {n} phrases but boxes {self.boxes.shape} and scores {self.scores.shape}")


def ground_frame(models, rgb: np.ndarray, prompt: str, t: float = 0.0, threshold: float | None = None) -> FrameBoxes:
    """One frame through the grounder (``models``: a ``model_clients.TritonModels``)."""
    import tritonclient.http as httpclient  # noqa: PLC0415

    image = np.ascontiguousarray(rgb[None], dtype=np.uint8)
    inputs = [httpclient.InferInput("IMAGE", list(image.shape), "UINT8"), httpclient.InferInput("PROMPT", [1, 1], "BYTES")]
    inputs[0].set_data_from_numpy(image, binary_data=True)
    inputs[1].set_data_from_numpy(np.array([[prompt.encode("utf-8")]], dtype=np.object_), binary_data=True)
    if threshold is not None:
        inputs.append(httpclient.InferInput("THRESHOLD", [1, 1], "FP32"))
        inputs[-1].set_data_from_numpy(np.array([[threshold]], np.float32), binary_data=True)
    outputs = [httpclient.InferRequestedOutput(n, binary_data=True) for n in ("BOXES", "SCORES", "PHRASES")]
    result = models.infer(MODEL, inputs, outputs)
    phrases = tuple(p.decode("utf-8") if isinstance(p, bytes) else str(p) for p in result.as_numpy("PHRASES").reshape(-1))
    return FrameBoxes(t, result.as_numpy("BOXES").reshape(-1, 4).astype(np.float32), result.as_numpy("SCORES").reshape(-1).astype(np.float32), phrases)


# -- linking --------------------------------------------------------------------------------------------------------
@dataclass
class Thing:
    """One thing of one phrase followed through a span's frames: its sightings (time, box, score)."""

    phrase: str
    sightings: list[tuple[float, np.ndarray, float]] = field(default_factory=list)

    @property
    def last(self) -> tuple[float, np.ndarray, float]:
        return self.sightings[-1]

    def best(self) -> tuple[float, np.ndarray, float]:
        return max(self.sightings, key=lambda s: s[2])


def _nms(frame: FrameBoxes, iou: float = NMS_IOU) -> FrameBoxes:
    """Overlapping boxes of the same phrase in one frame are one (supervision's per-class NMS)."""
    import supervision as sv  # noqa: PLC0415

    if len(frame.phrases) < 2:
        return frame
    names = sorted(set(frame.phrases))
    det = sv.Detections(xyxy=frame.boxes.astype(np.float32), confidence=frame.scores, class_id=np.array([names.index(p) for p in frame.phrases]))
    keep = det.with_nms(threshold=iou, class_agnostic=False)
    return FrameBoxes(frame.t, keep.xyxy.astype(np.float32), keep.confidence.astype(np.float32), tuple(names[c] for c in keep.class_id))


def link(frames: Sequence[FrameBoxes], iou: float = LINK_IOU, max_gap_s: float = MAX_GAP_S) -> list[Thing]:
    """Boxes of consecutive frames into things: per phrase, each frame's boxes are matched to the things seen at most
    ``max_gap_s`` before by an optimal assignment on their IoU (supervision's ``box_iou_batch``, scipy's Hungarian
    solver); a pair under ``iou`` is no match, and a box left over starts a new thing. Things in first-seen order.

    >>> box = lambda x: np.array([[x, 0.2, x + 0.2, 0.6]], np.float32)
    >>> f = [FrameBoxes(t, box(0.1 + 0.02 * t), np.array([0.5], np.float32), ("ladder",)) for t in range(4)]
    >>> [(th.phrase, [s[0] for s in th.sightings]) for th in link(f)]
    [('ladder', [0, 1, 2, 3])]
    """
    import supervision as sv  # noqa: PLC0415
    from scipy.optimize import linear_sum_assignment  # noqa: PLC0415

    things: list[Thing] = []
    for frame in sorted(frames, key=lambda f: f.t):
        frame = _nms(frame)
        for phrase in dict.fromkeys(frame.phrases):
            idx = [i for i, p in enumerate(frame.phrases) if p == phrase]
            boxes = frame.boxes[idx]
            open_things = [th for th in things if th.phrase == phrase and frame.t - th.last[0] <= max_gap_s + 1e-6 and th.last[0] < frame.t]
            matched: set[int] = set()
            if open_things:
                ious = sv.box_iou_batch(np.stack([th.last[1] for th in open_things]), boxes)
                rows, cols = linear_sum_assignment(-ious)
                for r, c in zip(rows, cols):
                    if ious[r, c] >= iou:
                        open_things[r].sightings.append((frame.t, boxes[c], float(frame.scores[idx[c]])))
                        matched.add(int(c))
            for c in range(len(idx)):
                if c not in matched:
                    things.append(Thing(phrase, [(frame.t, boxes[c], float(frame.scores[idx[c]]))]))
    return things


def prompt_key(prompt: str) -> str:
    return hashlib.sha1(prompt.encode("utf-8")).hexdigest()[:8]


def thing_events(things_by_span: Sequence[tuple[tuple[float, float], list[Thing]]], prompt: str) -> list[Event]:
    """One ``object`` event per thing per span, ids ``ground-<prompt key>-<n>``, outside any window (index -1)."""
    events = []
    key = prompt_key(prompt)
    for span, things in things_by_span:
        for th in things:
            best_t, best_box, best_score = th.best()
            box = [round(float(x), 4) for x in best_box]
            first, last = th.sightings[0][1], th.sightings[-1][1]
            events.append(
                Event(
                    f"ground-{key}-{len(events):04d}",
                    "object",
                    th.phrase,
                    th.sightings[0][0],
                    th.sightings[-1][0],
                    round(best_score, 4),
                    window_index=-1,
                    attrs={
                        "source": "grounding",
                        "prompt": prompt,
                        "box": box,
                        "best_box": box,
                        "best_t": round(float(best_t), 3),
                        "n_frames": len(th.sightings),
                        "span": [round(span[0], 3), round(span[1], 3)],
                        "start_center": [round(float((first[0] + first[2]) / 2), 4), round(float((first[1] + first[3]) / 2), 4)],
                        "end_center": [round(float((last[0] + last[2]) / 2), 4), round(float((last[1] + last[3]) / 2), 4)],
                    },
                )
            )
    return sorted(events, key=lambda e: (e.t_start, e.id))


# -- a run over a video ---------------------------------------------------------------------------------------------
@dataclass
class GroundingRun:
    video_id: str
    prompt: str
    spans: list[tuple[float, float]]
    events: list[Event]
    frames: int
    model_s: float  # seconds spent in the grounder (the requests, end to end)
    wall_s: float

    def to_dict(self) -> dict:
        return {
            "video_id": self.video_id,
            "prompt": self.prompt,
            "spans": [list(s) for s in self.spans],
            "frames": self.frames,
            "events": [e.to_dict() for e in self.events],
            "model_s": round(self.model_s, 3),
            "s_per_frame": round(self.model_s / self.frames, 3) if self.frames else None,
            "wall_s": round(self.wall_s, 3),
        }


def ground_video(
    graph, models, video_id: str, phrases: Iterable[str], spans: Sequence[tuple[float, float]] = (), threshold: float | None = None
) -> GroundingRun:
    """Ground ``phrases`` over ``spans`` of an ingested video (every span if none: the whole video) and write the events,
    replacing an earlier run of the same prompt. ``graph`` is a writable ``EventGraph``; ``models`` a ``TritonModels``
    whose server serves the grounder and the embedder."""
    from .media import FrameReader, MediaError, probe  # noqa: PLC0415

    started = time.monotonic()
    prompt = normalise_prompt(phrases)
    if not prompt:
        raise GroundingError("name at least one thing to look for, e.g. `ground VIDEO_ID forklift ladder`")
    video = graph.video(video_id)
    if video is None:
        raise GroundingError(f"unknown video id {video_id!r}; `python -m orchestrator videos` lists them")
    duration = float(video["duration_s"] or 0.0)
    spans = check_spans(list(spans) or [(0.0, duration)], duration)
    if not models.ready((MODEL,))[MODEL]:
        raise GroundingError(not_served_message(models.url))
    if not Path(video["path"]).is_file():
        raise GroundingError(f"the video's file {video['path']} is gone: ingest it again to ground it")
    try:
        reader = FrameReader(probe(video["path"]))
    except MediaError as exc:
        raise GroundingError(f"cannot read the video's frames: {exc}") from None
    per_span: list[tuple[tuple[float, float], list[Thing]]] = []
    n_frames, model_s = 0, 0.0
    for span in spans:
        wanted = frame_times(graph.kept_frame_times(video_id, *span), span)
        results = []
        for want in wanted:  # one frame at a time: memory and decoding follow the frames grounded, not the span's length
            frame = next(iter(reader.read(want, min(want + FRAME_STEP_S / 2, duration + 1e-3), 2.0 / FRAME_STEP_S)), None)
            if frame is None:
                continue
            t0 = time.monotonic()
            results.append(ground_frame(models, frame[1], prompt, float(frame[0]), threshold))
            model_s += time.monotonic() - t0
            n_frames += 1
        per_span.append((span, link(results)))
    events = thing_events(per_span, prompt)
    vectors = models.embed([e.describe() for e in events])
    graph.replace_grounding(video_id, prompt, events, vectors)
    return GroundingRun(video_id, prompt, spans, events, n_frames, model_s, time.monotonic() - started)
