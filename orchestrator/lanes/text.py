"""Text lane: words in the picture (signs, screens, captions, labels, number plates) as ``text`` events.

Worker: at most one kept frame per ``OCR_INTERVAL_S`` is looked at; a frame that has not changed since the last one
read (no cell of a coarse grid changed) reuses that reading, and a changed one is read only where a cheap check
finds text-like structure (character-sized blobs of the morphological gradient side by side in rows): frames without
text cost a few milliseconds. Each text-like line is cropped, scaled to a height Tesseract reads well and read as one
line (Tesseract in process through tesserocr, with Debian's ``eng`` model); lines one under the other form one text
(a sign's lines), also read as one block when at least one of its lines read as confident text, the reading with more
confident characters kept (a block none of whose lines reads is texture: leaves, fur, grass; reading it as a block
cost most of the lane's time on such footage and found only noise). Words under
``MIN_WORD_CONF`` are dropped, and texts left without two letters or digits or under ``MIN_TEXT_CONF``.

Driver: the texts seen are matched to the open ones by fuzzy similarity (OCR varies frame to frame), carried across
windows in ``TextState``, and each becomes ONE event when it has not been seen for ``CLOSE_AFTER_S`` (or at the
video's end), labelled with its most frequent reading and spanning the time it was visible.

Without the tesseract binary and its English model (``apt-get install tesseract-ocr tesseract-ocr-eng``) the lane
reads nothing: it logs one warning and the other lanes run as usual.
"""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
import threading
from dataclasses import dataclass, field

import cv2
import numpy as np

from ..appearance import text_colours
from ..events import Event
from .base import AssemblyContext, Lane, LaneOutput, VideoMedia

log = logging.getLogger(__name__)

OCR_INTERVAL_S = 1.0  # at most one frame read per second of kept frames
CHANGE_THRESHOLD = 0.06  # a 16x9-cell grid of the frame: a cell whose mean grayscale change passes this is a change
MIN_WORD_CONF = 60.0  # Tesseract word confidence (0..100)
MIN_TEXT_CONF = 70.0  # a text's mean word confidence
MAX_LINES = 16  # text-like lines read per frame, the most text-like first
LINE_HEIGHT = 40  # pixels: a line crop is scaled to about this height for Tesseract
MATCH_SCORE = 75.0  # rapidfuzz ratio (0..100) at which two readings are the same text
CLOSE_AFTER_S = 4.0  # a text not seen for this long is over
MIN_FRAMES = 2  # frames a text must be read in to be an event


@dataclass
class TextReading:
    """One text in one frame: its words (with confidences) and where it is (0..1 of the frame)."""

    text: str
    words: list[tuple[str, float]]
    box: tuple[float, float, float, float]
    colours: tuple[str, str] | None = None  # (letters, board): "white" on "red"

    @property
    def confidence(self) -> float:
        return float(np.mean([c for _, c in self.words])) if self.words else 0.0


@dataclass
class TextResult:
    times: list[float]  # the frames looked at
    readings: list[list[TextReading]]  # per frame looked at: the texts read there (the last reading when unchanged)
    ocr_frames: int = 0  # frames checked for text (changed since the last one checked; the rest reuse its reading)
    skipped: str = ""  # why nothing was read (no Tesseract)


@dataclass
class OpenText:
    id: str
    variants: dict[str, list]  # normalised reading -> [times read, confidence sum, words of its best reading, best confidence]
    first_t: float
    last_t: float
    box: tuple[float, float, float, float]
    best_conf: float
    frames: int = 0
    colours: tuple[str, str] | None = None  # the best reading's (letters, board)

    def label(self) -> str:
        return max(self.variants.items(), key=lambda kv: (kv[1][0], kv[1][1], kv[0]))[0]


@dataclass
class TextState:
    open: list[OpenText] = field(default_factory=list)
    window: int = -1  # the window ids are being numbered in, and how many it has opened
    opened: int = 0


# --- engine ---------------------------------------------------------------------------------------------------------

_ENGINE_LOCK = threading.Lock()
_ENGINE: dict = {}  # "tessdata": path or "" (missing), checked once per process
_LOCAL = threading.local()  # one Tesseract API per thread (an API is not thread-safe)


def tessdata() -> str:
    """Where Debian's Tesseract keeps its models ("" when the tesseract binary or its English model is missing; then
    one warning is logged)."""
    with _ENGINE_LOCK:
        if "tessdata" not in _ENGINE:
            path = ""
            exe = shutil.which("tesseract")
            if exe:
                try:
                    out = subprocess.run([exe, "--list-langs"], capture_output=True, text=True, timeout=30)
                    listing = out.stdout + out.stderr
                    found = re.search(r'"([^"]+)"', listing)
                    if found and re.search(r"^eng$", listing, re.M):
                        path = found.group(1)
                except (OSError, subprocess.SubprocessError) as exc:
                    log.debug("tesseract --list-langs: %s", exc)
            if not path:
                log.warning(
                    "text lane skipped: the tesseract binary or its English model is missing "
                    "(install them with: apt-get install tesseract-ocr tesseract-ocr-eng)"
                )
            _ENGINE["tessdata"] = path
        return _ENGINE["tessdata"]


def _api():
    api = getattr(_LOCAL, "api", None)
    if api is None:
        import tesserocr

        api = tesserocr.PyTessBaseAPI(path=tessdata().rstrip("/") + "/", lang="eng", psm=tesserocr.PSM.SINGLE_LINE)
        _LOCAL.api = api
    return api


def read_line(gray: np.ndarray, block: bool = False) -> list[tuple[str, float]]:
    """The words of one line image (grayscale; ``block``: of several lines) with Tesseract's confidences."""
    import tesserocr
    from PIL import Image

    api = _api()
    api.SetPageSegMode(tesserocr.PSM.SINGLE_BLOCK if block else tesserocr.PSM.SINGLE_LINE)
    api.SetImage(Image.fromarray(gray))
    api.Recognize()
    words = []
    level = tesserocr.RIL.WORD
    iterator = api.GetIterator()
    if iterator is None:
        return []
    for r in tesserocr.iterate_level(iterator, level):
        try:
            w = r.GetUTF8Text(level)
        except RuntimeError:  # an empty word
            continue
        if w and w.strip():
            words.append((w.strip(), float(r.Confidence(level))))
    return words


# --- text-like structure ----------------------------------------------------------------------------------------------


def text_lines(gray: np.ndarray) -> list[tuple[int, int, int, int]]:
    """Boxes (x1, y1, x2, y2 in pixels) of text-like lines, the most text-like first: character-sized blobs of the
    morphological gradient (strokes' outlines) side by side in a row, of similar height. Cheap (milliseconds on a
    640-pixel frame); a frame without text gives few or none."""
    h, w = gray.shape
    grad = cv2.morphologyEx(gray, cv2.MORPH_GRADIENT, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3)))
    otsu, _ = cv2.threshold(grad, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
    _, bw = cv2.threshold(grad, max(otsu, 40.0), 255, cv2.THRESH_BINARY)
    n, _labels, stats, _ = cv2.connectedComponentsWithStats(bw, connectivity=8)
    st = stats[1:].astype(np.float32)
    x, y, cw, ch, area = st[:, 0], st[:, 1], st[:, 2], st[:, 3], st[:, 4]
    fill = area / np.maximum(cw * ch, 1)
    ok = (ch >= 7) & (ch <= h / 4) & (cw >= 2) & (cw <= 6 * ch) & (fill >= 0.12) & (fill <= 0.9)
    x, y, cw, ch = x[ok], y[ok], cw[ok], ch[ok]
    if len(x) < 2:
        return []
    if len(x) > 800:  # a heavily textured frame: its largest blobs
        keep = np.argsort(-ch)[:800]
        x, y, cw, ch = x[keep], y[keep], cw[keep], ch[keep]
    # neighbours: overlapping rows, similar heights, a gap under one character height
    top, bot = y, y + ch
    overlap = np.minimum(bot[:, None], bot[None, :]) - np.maximum(top[:, None], top[None, :])
    hmax, hmin = np.maximum(ch[:, None], ch[None, :]), np.minimum(ch[:, None], ch[None, :])
    gap = np.maximum(x[:, None], x[None, :]) - np.minimum((x + cw)[:, None], (x + cw)[None, :])
    near = (overlap >= 0.6 * hmin) & (hmax <= 1.8 * hmin) & (gap <= 0.8 * hmax)
    parent = list(range(len(x)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in zip(*np.nonzero(np.triu(near, 1))):
        parent[root(int(i))] = root(int(j))
    groups: dict[int, list[int]] = {}
    for i in range(len(x)):
        groups.setdefault(root(i), []).append(i)
    found = []
    for members in groups.values():
        if len(members) < 3:
            continue
        m = np.array(members)
        x1, y1, x2, y2 = x[m].min(), y[m].min(), (x[m] + cw[m]).max(), (y[m] + ch[m]).max()
        if x2 - x1 < 1.5 * (y2 - y1):
            continue
        spread = float(np.std(ch[m]) / np.mean(ch[m]))
        found.append((len(members) * (1.0 - min(spread, 0.9)), (int(x1), int(y1), int(x2), int(y2))))
    found.sort(key=lambda f: -f[0])
    return [box for _, box in found[:MAX_LINES]]


_EDGE_PUNCT = re.compile(r"^[^\w]+|[^\w]+$")


def clean_words(words: list[tuple[str, float]]) -> list[tuple[str, float]]:
    """Confident words, stray punctuation trimmed from their edges."""
    out = []
    for word, conf in words:
        word = _EDGE_PUNCT.sub("", word)
        if conf >= MIN_WORD_CONF and word and re.search(r"[A-Za-z0-9]", word):
            out.append((word, conf))
    return out


def normalise(text: str) -> str:
    return " ".join(text.split())


def text_blocks(lines: list[tuple[int, int, int, int]]) -> list[list[tuple[int, int, int, int]]]:
    """Lines grouped into texts: lines one under the other (overlapping across, close below, similar height) are one
    text (a sign's lines), top to bottom."""
    blocks = [[ln] for ln in lines]
    merged = True
    while merged:
        merged = False
        for i in range(len(blocks)):
            for j in range(i + 1, len(blocks)):
                a, b = _union(blocks[i]), _union(blocks[j])
                ha, hb = min(y2 - y1 for _, y1, _, y2 in blocks[i]), min(y2 - y1 for _, y1, _, y2 in blocks[j])
                lh, lm = max(ha, hb), min(ha, hb)
                across = min(a[2], b[2]) - max(a[0], b[0])
                below = max(a[1], b[1]) - min(a[3], b[3])
                if lh <= 2.5 * lm and across > -0.5 * lh and below <= 1.2 * lh:
                    blocks[i] += blocks.pop(j)
                    merged = True
                    break
            if merged:
                break
    return [sorted(b, key=lambda ln: (ln[1], ln[0])) for b in blocks]


def _union(boxes) -> tuple[int, int, int, int]:
    return min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes)


def _crop(gray: np.ndarray, box, line_h: int, pad_div: int) -> np.ndarray:
    h, w = gray.shape
    x1, y1, x2, y2 = box
    pad = max(3, line_h // pad_div)
    return line_image(gray[max(0, y1 - pad) : min(h, y2 + pad), max(0, x1 - pad) : min(w, x2 + pad)], line_h)


def _confident(words: list[tuple[str, float]]) -> bool:
    return _chars(words) >= 2 and float(np.mean([c for _, c in words])) >= MIN_TEXT_CONF


def _chars(words: list[tuple[str, float]]) -> int:
    return sum(len(re.sub(r"[^A-Za-z0-9]", "", wd)) for wd, _ in words)


def read_frame(rgb: np.ndarray) -> list[TextReading]:
    """The texts in one frame: text-like lines found, grouped into texts; a one-line text read as a line, a text of
    several lines read both as a block and line by line, the reading with more confident characters kept."""
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    h, w = gray.shape
    readings, seen = [], set()
    for block in text_blocks(text_lines(gray)):
        line_h = min(y2 - y1 for _, y1, _, y2 in block)
        by_line, read_lines = [], []
        for ln in block:
            read = clean_words(read_line(_crop(gray, ln, ln[3] - ln[1], 3)))
            if _confident(read):  # a line of noise (leaves, a border) does not drag its neighbours down
                by_line += read
                read_lines.append(ln)
        words = by_line
        if len(block) > 1 and read_lines:  # no line of it reads: texture, not worth a block read (the costly one)
            as_block = clean_words(read_line(_crop(gray, _union(block), line_h, 2), block=True))
            if _confident(as_block) and _chars(as_block) > _chars(by_line):
                words, read_lines = as_block, block
        text = normalise(" ".join(wd for wd, _ in words))
        if len(re.sub(r"[^A-Za-z0-9]", "", text)) < 2:
            continue
        x1, y1, x2, y2 = _union(read_lines)  # where the words read are
        pad = max(2, line_h // 3)  # a margin of what they are written on
        colours = text_colours(rgb[max(0, y1 - pad) : min(h, y2 + pad), max(0, x1 - pad) : min(w, x2 + pad)])
        reading = TextReading(text, [(wd, round(c, 1)) for wd, c in words], (round(x1 / w, 4), round(y1 / h, 4), round(x2 / w, 4), round(y2 / h, 4)), colours)
        if text.lower() in seen or reading.confidence < MIN_TEXT_CONF:  # the same words twice in a frame are one text
            continue
        seen.add(text.lower())
        readings.append(reading)
    return readings


def line_image(crop: np.ndarray, line_h: int) -> np.ndarray:
    """A line crop as Tesseract reads it best: scaled to about ``LINE_HEIGHT``, with a margin."""
    scale = float(np.clip(LINE_HEIGHT / max(line_h, 1), 1.0, 4.0))
    if scale > 1.0:
        crop = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
    return cv2.copyMakeBorder(crop, 8, 8, 8, 8, cv2.BORDER_REPLICATE)


def frame_changed(a: np.ndarray | None, b: np.ndarray) -> bool:
    """Whether any cell of a 16x9 grid of the frame changed (small grayscale thumbnails)."""
    return a is None or float(np.abs(a - b).max()) > CHANGE_THRESHOLD


def thumbnail(rgb: np.ndarray) -> np.ndarray:
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    return cv2.resize(gray, (16, 9), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0


def read_frames(times: list[float], frames: list[np.ndarray]) -> TextResult:
    """The texts of the frames looked at (at most one per ``OCR_INTERVAL_S``; an unchanged frame reuses the last reading)."""
    result = TextResult([], [])
    last_t, last_thumb, last = None, None, []
    for t, rgb in zip(times, frames):
        if last_t is not None and t - last_t < OCR_INTERVAL_S - 1e-6:
            continue
        thumb = thumbnail(rgb)
        if frame_changed(last_thumb, thumb):
            last = read_frame(rgb)  # nothing text-like: no Tesseract call
            result.ocr_frames += 1
            last_thumb = thumb
        last_t = t
        result.times.append(t)
        result.readings.append(last)
    return result


# --- the lane ---------------------------------------------------------------------------------------------------------


class TextLane(Lane):
    name = "text"
    source = "video"

    def new_state(self, config) -> TextState:
        return TextState()

    def analyse(self, task, media: VideoMedia, models) -> TextResult:
        if not tessdata():
            return TextResult([], [], skipped="tesseract missing")
        return read_frames([d.t for d in media.frames if d.keep], media.kept)

    def assemble(self, result: TextResult, ctx: AssemblyContext) -> LaneOutput:
        w, state = ctx.window, ctx.state
        if state.window != w.index:
            state.window, state.opened = w.index, 0
        events: list[Event] = []
        for t, readings in zip(result.times, result.readings):
            events += self._close(state, w.index, lambda o: t - o.last_t > CLOSE_AFTER_S)
            matched: set[str] = set()
            for r in readings:
                key = r.text
                best, score = None, 0.0
                for o in state.open:
                    if o.id in matched:
                        continue
                    s = max(similarity(key, v) for v in o.variants)
                    if s > score:
                        best, score = o, s
                if best is None or score < MATCH_SCORE:
                    best = OpenText(f"text-{w.index:05d}-{state.opened:03d}", {}, t, t, r.box, r.confidence, colours=r.colours)
                    state.opened += 1
                    state.open.append(best)
                matched.add(best.id)
                v = best.variants.setdefault(key, [0, 0.0, r.words, 0.0])
                v[0] += 1
                v[1] += r.confidence
                if r.confidence > v[3]:
                    v[2], v[3] = r.words, r.confidence
                best.last_t, best.frames = t, best.frames + 1
                if r.confidence > best.best_conf:
                    best.box, best.best_conf = r.box, r.confidence
                    best.colours = r.colours or getattr(best, "colours", None)
        end = w.t_end
        events += self._close(state, w.index, (lambda o: True) if ctx.is_last else (lambda o: end - o.last_t > CLOSE_AFTER_S))
        return LaneOutput(events=events)

    @staticmethod
    def _close(state: TextState, window_index: int, done) -> list[Event]:
        events = []
        for o in [o for o in state.open if done(o)]:
            state.open.remove(o)
            if o.frames < MIN_FRAMES:
                continue
            label = o.label()
            count, conf_sum, words, _ = o.variants[label]
            events.append(
                Event(
                    o.id,
                    "text",
                    label,
                    o.first_t,
                    o.last_t,
                    round(conf_sum / count / 100.0, 4),
                    text=label,
                    window_index=window_index,
                    attrs={"box": list(o.box), "confidence_words": [[wd, c] for wd, c in words], "frames": o.frames, **_colour_attrs(o)},
                )
            )
        return events


def _colour_attrs(o: OpenText) -> dict:
    """A text's colours as stored: the board's and the letters' ("colours" board first, as a sign is named)."""
    c = getattr(o, "colours", None)  # a state pickled before texts had colours has none
    return {"letter_colour": c[0], "board_colour": c[1], "colours": [c[1], c[0]]} if c else {}


def similarity(a: str, b: str) -> float:
    from rapidfuzz import fuzz

    return float(fuzz.ratio(a.lower(), b.lower()))
