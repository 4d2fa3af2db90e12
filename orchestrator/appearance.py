"""What a tracked object looks like: colours in plain words, size, where it stays, how it moves.

Pure functions over numpy arrays (no model, no I/O), so the objects lane can call them wherever a
window is analysed::

    >>> import numpy as np
    >>> red = np.zeros((40, 20, 3), np.uint8); red[:] = (200, 20, 25)     # RGB
    >>> a = describe_track([red], [(0.1, 0.5, 0.2, 0.9)], [(0.0, 0.15, 0.7), (2.0, 0.55, 0.7)], (640, 360))
    >>> a.colours, a.size, a.region, a.motion, a.direction
    (['red'], 'medium', 'bottom centre', 'moving', 'right')

Colours: the crop's pixels (its centre, less the background at the box edges; for a person the upper
body and the legs, for a vehicle the body below the windows) are clustered with OpenCV's k-means in CIE
Lab; each cluster centre is named from its Lab hue angle, chroma and lightness (``HUE_BANDS``,
``GREYS``): weakly coloured clusters (more so when dark) go to the grey scale (white, silver, grey,
black), so shadows, glare and dark fabric are not called blue or brown.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Sequence

import cv2
import numpy as np

Box = tuple[float, float, float, float]  # x1, y1, x2, y2, normalised 0..1 to the frame
PathPoint = tuple[float, float, float]  # t, cx, cy (normalised), as TrackSummary.path

# Colour names by hue in CIE LCh (Lab's hue angle h and chroma C), with lightness modifiers: a maintained
# colour space (OpenCV's Lab) and a small table a person can read. Hue bands, in degrees of Lab hue:
# sRGB red sits at ~40, orange ~60, yellow ~100, green ~135, cyan ~195, blue ~305, purple ~330.
HUE_BANDS: tuple[tuple[float, str], ...] = (
    (50.0, "red"),
    (78.0, "orange"),
    (110.0, "yellow"),
    (165.0, "green"),
    (315.0, "blue"),
    (350.0, "purple"),
    (360.0, "red"),
)
GREYS: tuple[tuple[str, float], ...] = (("black", 0.0), ("grey", 30.0), ("silver", 62.0), ("white", 82.0))  # name, from L*
CHROMA_GREY = 8.0  # Lab chroma below this is a grey-scale colour (white, silver, grey, black) ...
DARK_CHROMA_BONUS = 0.5  # ... and more so when dark: below 8 + 0.5 * (24 - L*) (dark fabric looks blue or brown to a camera)
SIZE_CLASSES = ((0.1, "small"), (0.3, "medium"))  # by sqrt(box area / frame area); larger: "large"
# where on a box a colour is read: a person's upper body and legs, a vehicle's body below its windows
PARTS: dict[str, tuple[tuple[float, float], ...]] = {
    "person": ((0.15, 0.5), (0.55, 0.9)),
    "car": ((0.45, 0.9),),
    "truck": ((0.4, 0.9),),
    "bus": ((0.35, 0.9),),
    "train": ((0.35, 0.9),),
}


def _lab(rgb: np.ndarray) -> np.ndarray:
    """uint8 RGB [..., 3] -> float Lab with L* 0..100, a*, b* about -128..127."""
    lab = cv2.cvtColor(np.ascontiguousarray(rgb.reshape(-1, 1, 3).astype(np.float32) / 255.0), cv2.COLOR_RGB2Lab)
    return lab.reshape(-1, 3)


def name_colour(lab: Sequence[float]) -> str:
    """The plain name of one Lab colour."""
    L, a, b = (float(v) for v in lab)
    chroma = float(np.hypot(a, b))
    if chroma < CHROMA_GREY + max(0.0, DARK_CHROMA_BONUS * (24.0 - L)):
        return [n for n, start in GREYS if L >= start][-1]
    hue = float(np.degrees(np.arctan2(b, a))) % 360.0
    name = next(n for limit, n in HUE_BANDS if hue < limit)
    if name == "blue" and hue < 230 and L < 45:
        name = "green"  # dark cyan reads as green (foliage in shade)
    if name in ("red", "orange", "yellow") and 40 < hue < 105:
        if L >= 50 and chroma < 20 or L >= 62 and chroma < 25:
            return "beige"  # light and dull orange/yellow
        if L < 42 or chroma < 25:
            return "brown"  # dark or dull orange/yellow
    if name == "red":
        if L >= 65 and (hue < 25 or hue > 340 or chroma < 45):
            return "pink"
        return "dark red" if L < 35 else "red"
    if name == "green":
        return "dark green" if L < 35 else "light green" if L > 75 else "green"
    if name == "blue":
        return "dark blue" if L < 30 else "light blue" if L > 62 or (hue < 250 and L > 50) else "blue"
    return name


def dominant_colours(crop: np.ndarray, k: int = 3, min_share: float = 0.25, max_colours: int = 2, inner: float = 0.7) -> list[tuple[str, float]]:
    """Named dominant colours of an RGB uint8 crop, largest share first: [(name, share), ...].

    Only the central ``inner`` fraction of the box is used (a box's edges are mostly background); pixels
    are clustered in Lab with ``cv2.kmeans``; clusters under ``min_share`` are ignored and clusters
    with the same name are merged.
    """
    if crop.ndim != 3 or crop.shape[2] != 3 or crop.size == 0:
        return []
    h, w = crop.shape[:2]
    dy, dx = int(h * (1 - inner) / 2), int(w * (1 - inner) / 2)
    core = crop[dy : h - dy or h, dx : w - dx or w]
    if max(core.shape[:2]) > 64:  # colour needs no detail: fewer pixels, same answer, less CPU
        s = 64 / max(core.shape[:2])
        core = cv2.resize(core, (max(1, round(core.shape[1] * s)), max(1, round(core.shape[0] * s))), interpolation=cv2.INTER_AREA)
    if core.shape[0] * core.shape[1] < 4:  # a sliver of a box (a detection at the frame's edge) has no colour to read
        return []
    pixels = np.ascontiguousarray(_lab(core).reshape(-1, 3), dtype=np.float32)
    k = max(1, min(k, len(pixels)))
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 20, 0.5)
    cv2.setRNGSeed(0)  # the same crop always gets the same colours
    _, labels, centres = cv2.kmeans(pixels, k, None, criteria, 3, cv2.KMEANS_PP_CENTERS)
    shares = np.bincount(labels.reshape(-1), minlength=k) / len(pixels)
    named: dict[str, float] = {}
    for i in np.argsort(-shares):
        name = name_colour(centres[i])
        named[name] = named.get(name, 0.0) + float(shares[i])
    ranked = sorted(named.items(), key=lambda kv: -kv[1])
    return [(n, round(s, 3)) for n, s in ranked if s >= min_share][:max_colours] or ranked[:1]


def text_colours(crop: np.ndarray) -> tuple[str, str] | None:
    """(letters, board): the colours of a text's strokes and of what they are written on, from an RGB crop of the
    text's box. Otsu's threshold splits the crop's pixels into two tones; the smaller share is the strokes.
    None when the crop is too small or both tones have the same name (no colour to tell apart).

    >>> board = np.zeros((24, 60, 3), np.uint8); board[:] = (200, 20, 30); board[8:16, 5:55:4] = 255
    >>> text_colours(board)
    ('white', 'red')
    """
    if crop.ndim != 3 or crop.shape[2] != 3 or crop.shape[0] < 4 or crop.shape[1] < 4:
        return None
    gray = cv2.cvtColor(np.ascontiguousarray(crop), cv2.COLOR_RGB2GRAY)
    _, mask = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    light = mask.reshape(-1) > 0
    if light.all() or not light.any():
        return None
    pixels = crop.reshape(-1, 3)
    strokes = light if light.mean() < 0.5 else ~light
    letters, board = (name_colour(np.median(_lab(pixels[sel]), axis=0)) for sel in (strokes, ~strokes))
    return None if letters == board else (letters, board)


def object_colours(crop: np.ndarray, label: str | None = None) -> list[tuple[str, float]]:
    """Dominant colours of an object's crop, read where a person would look for its colour (``PARTS``):
    a person's upper-body colour then their legs' colour; a vehicle's body below the windows; anything
    else, the whole box."""
    parts = PARTS.get(label or "", ((0.0, 1.0),))
    h = crop.shape[0] if crop.ndim == 3 else 0
    if len(parts) == 1:
        y0, y1 = parts[0]
        return dominant_colours(crop[int(h * y0) : max(int(h * y0) + 1, int(h * y1))], inner=0.8 if y1 - y0 < 1 else 0.7)
    out: list[tuple[str, float]] = []
    for y0, y1 in parts:  # one main colour per part, e.g. [("red", ...), ("blue", ...)] for a red top and blue jeans
        main = dominant_colours(crop[int(h * y0) : max(int(h * y0) + 1, int(h * y1))], max_colours=1, inner=0.8)
        out += [c for c in main if c[0] not in {n for n, _ in out}]
    return out


def size_class(box: Box) -> str:
    """small / medium / large by the box's share of the frame (normalised box)."""
    rel = float(np.sqrt(max(0.0, box[2] - box[0]) * max(0.0, box[3] - box[1])))
    return next((name for limit, name in SIZE_CLASSES if rel < limit), "large")


def frame_region(cx: float, cy: float) -> str:
    """Where a point (normalised) is: 'top left' ... 'centre' ... 'bottom right'."""
    col = "left" if cx < 1 / 3 else "right" if cx > 2 / 3 else "centre"
    row = "top" if cy < 1 / 3 else "bottom" if cy > 2 / 3 else ""
    return "centre" if (row, col) == ("", "centre") else f"{row} {col}".strip()


def motion(path: Sequence[PathPoint], box: Box | None = None, min_shift: float = 0.05) -> tuple[str, str | None]:
    """('moving' | 'stationary', direction) from a track's path of (t, cx, cy).

    Moving: the centre got farther from where it started than ``min_shift`` of the frame and than half the
    box's size (a large box jitters more). Direction: the main axis of the net displacement, in the
    rules' words (left, right, up, down); None when stationary.
    """
    if len(path) < 2:
        return "stationary", None
    pts = np.array([(p[1], p[2]) for p in path], np.float64)
    reach = float(np.max(np.hypot(*(pts - pts[0]).T)))
    scale = 0.5 * max(box[2] - box[0], box[3] - box[1]) if box is not None else 0.0
    if reach < max(min_shift, scale):
        return "stationary", None
    dx, dy = pts[-1] - pts[0]
    if abs(dx) >= abs(dy):
        return "moving", "right" if dx > 0 else "left"
    return "moving", "down" if dy > 0 else "up"


@dataclass(frozen=True)
class TrackAppearance:
    """A track's appearance attributes (what is stored on its events)."""

    colours: list[str] = field(default_factory=list)  # plain colour names, main colour first
    colour_shares: list[float] = field(default_factory=list)  # share of the object's pixels, same order
    size: str = "medium"  # small | medium | large (relative to the frame)
    region: str = "centre"  # where in the frame it mostly is: 'top left' ... 'bottom right'
    motion: str = "stationary"  # moving | stationary
    direction: str | None = None  # left | right | up | down when moving

    def to_attrs(self) -> dict:
        """Plain JSON-able attributes, for an event's ``attrs`` (keys prefixed so they sit beside others)."""
        return {f"appearance_{k}": v for k, v in asdict(self).items()}


def describe_track(
    crops: Sequence[np.ndarray],
    boxes: Sequence[Box],
    path: Sequence[PathPoint],
    frame_size: tuple[int, int],
    label: str | None = None,
    colour_votes: Sequence[Sequence[tuple[str, float]]] = (),
) -> TrackAppearance:
    """Appearance of one track from its best crops (RGB uint8, any size), their boxes and its path.

    ``frame_size`` is (width, height) in pixels; it is used to keep the colour vote fair between crops
    of very different sizes (each crop's vote is weighted by its pixel area, capped). ``label`` (the
    track's class) says where on the box to read colours (``PARTS``). Colours are the crops' dominant
    colours voted by share; size and region come from the median box.

    ``colour_votes``: ``object_colours`` results computed elsewhere (e.g. where the frames are, one per
    detection), voted like crops of full weight; pass crops, votes or both.
    """
    votes: dict[str, float] = {}
    frame_px = max(1, frame_size[0] * frame_size[1])
    for crop in crops:
        weight = min(1.0, crop.shape[0] * crop.shape[1] / (0.01 * frame_px)) if crop.size else 0.0
        for name, share in object_colours(crop, label):
            votes[name] = votes.get(name, 0.0) + share * max(weight, 0.1)
    for named in colour_votes:
        for name, share in named:
            votes[name] = votes.get(name, 0.0) + share
    total = sum(votes.values()) or 1.0
    ranked = [(n, v / total) for n, v in sorted(votes.items(), key=lambda kv: -kv[1])]
    ranked = [(n, s) for n, s in ranked if s >= 0.25][:2] or ranked[:1]
    if boxes:
        b = np.median(np.asarray(boxes, np.float64), axis=0)
        box: Box | None = (float(b[0]), float(b[1]), float(b[2]), float(b[3]))
    else:
        box = None
    if path:
        cx, cy = float(np.median([p[1] for p in path])), float(np.median([p[2] for p in path]))
    elif box is not None:
        cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    else:
        cx = cy = 0.5
    moving, direction = motion(path, box)
    return TrackAppearance(
        colours=[n for n, _ in ranked],
        colour_shares=[round(s, 3) for _, s in ranked],
        size=size_class(box) if box is not None else "medium",
        region=frame_region(cx, cy),
        motion=moving,
        direction=direction,
    )


def crop(frame: np.ndarray, box: Box) -> np.ndarray:
    """The pixels of a normalised box in an RGB frame (at least one pixel)."""
    h, w = frame.shape[:2]
    x1, y1 = int(np.clip(box[0] * w, 0, w - 1)), int(np.clip(box[1] * h, 0, h - 1))
    x2, y2 = max(x1 + 1, int(np.ceil(box[2] * w))), max(y1 + 1, int(np.ceil(box[3] * h)))
    return frame[y1:y2, x1:x2]
