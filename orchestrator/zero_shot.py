"""Zero-shot search of what was seen and heard: a phrase no class list or tag list has ("a person with an umbrella",
"an open car boot", "a kettle whistling") embedded by the text tower of the model that embedded the media.

Two spaces, one code path: ``image_text`` (key frames embedded by the look lane, ``triton_models/image_text``: CLIP or
SigLIP) and ``audio_text`` (sound events embedded by the sounds lane, ``triton_models/audio_text``: CLAP). The media
vectors live in the graph's ``media_vectors`` table (``EventGraph.nearest_media``).

Is it really there? A cosine alone does not say: its scale differs per model and a random model still ranks
something first. So each candidate moment is asked the model's own question, the one it was trained on: is this
phrase, rather than any of a few alternatives, the caption of this moment? The alternatives are generic captions
("a photo", "a sound", ...) and the phrase's own parts ("a person" for "a person with an umbrella": the umbrella must
add something). The probability is the softmax of the cosines at the model's learned temperature (``exp(logit_scale)``,
100 for a trained CLIP, 14.3 at initialisation) over the phrase and its alternatives; a moment is accepted when the
phrase takes at least ``ACCEPT`` (0.5: more likely than all the alternatives together) and beats the best alternative.
A random model's phrase and alternatives are alike to it: its probability stays near 1 / (1 + alternatives), and it
is refused.

    result = search(graph, models, video_id, "a person with an umbrella", "image_text")
    result.moments        # accepted, best first: Moment(t_start, t_end, sim, probability, ...)
    result.refused        # why nothing was accepted ("" when something was)
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .profiling import stage

log = logging.getLogger(__name__)

SPACES = ("image_text", "audio_text")
MEDIA_INPUT = {"image_text": "IMAGE", "audio_text": "AUDIO"}
WEIGHTS_ENV = {"image_text": "VDET_IMAGE_TEXT_WEIGHTS", "audio_text": "VDET_AUDIO_TEXT_WEIGHTS"}
WEIGHTS_ROLE = {"image_text": "image-text", "audio_text": "audio-text"}
ACCEPT = 0.5  # the phrase's share of the probability against its alternatives, from which a moment is believed
MERGE_GAP_S = 2.5
MIN_CLIP_S = 0.25  # a shorter sound clip is padded with silence to this  # accepted moments this close are one moment
GENERIC = {
    "image_text": ("a photo", "a picture of something", "an image", "a scene", "a photo of a place", "a photo of an object", "a blurry photo"),
    "audio_text": ("a sound", "noise", "background noise", "silence", "a recording", "people talking", "music"),
}
PARTS_RX = re.compile(r"\b(?:with|and|in|on|at|near|holding|carrying|wearing|next to|behind|under|of)\b")
STOP = {"a", "an", "the", "some", "of", "photo", "picture", "image", "sound", "is", "are", "being", "something"}


class ZeroShotError(RuntimeError):
    """Zero-shot search cannot run (the model is not served, the video has no vectors in the space); says what to do."""


def weights_dir(model: str) -> Path:
    """Where ``model`` (``image_text`` or ``audio_text``) is loaded from: ``$VDET_<MODEL>_WEIGHTS`` (a Hugging Face model
    folder), else ``<models>/image-text`` or ``<models>/audio-text``."""
    from .settings import get_settings  # noqa: PLC0415
    from .weights import models_dir  # noqa: PLC0415

    explicit = getattr(get_settings(), f"{model}_weights")
    if explicit:
        return Path(explicit).expanduser()

    return models_dir() / WEIGHTS_ROLE[model]


def weights_present(model: str) -> bool:
    return (weights_dir(model) / "config.json").is_file()


# -- the Triton calls ------------------------------------------------------------------------
@dataclass(frozen=True)
class Embedded:
    vectors: np.ndarray  # [n, d], L2-normalised
    temperature: float  # the model's exp(logit_scale)
    bias: float  # SigLIP's logit bias; nan for CLIP and CLAP


def _call(models, space: str, name: str, rows: np.ndarray, dtype: str) -> Embedded:
    import tritonclient.http as httpclient

    inp = httpclient.InferInput(name, list(rows.shape), dtype)
    inp.set_data_from_numpy(rows, binary_data=True)
    outs = [httpclient.InferRequestedOutput(n, binary_data=True) for n in ("EMBEDDING", "LOGIT")]
    result = models.infer(space, [inp], outs)
    logit = result.as_numpy("LOGIT").reshape(-1, 2)[0]
    return Embedded(result.as_numpy("EMBEDDING").astype(np.float32), float(logit[0]), float(logit[1]))


def embed_texts(models, space: str, texts: list[str], batch: int = 32) -> Embedded:
    """Phrases in ``space`` (the text tower of the model that embedded the media)."""
    parts = [
        _call(models, space, "TEXT", np.array([[t.encode("utf-8")] for t in texts[i : i + batch]], dtype=np.object_), "BYTES")
        for i in range(0, len(texts), batch)
    ]
    return Embedded(np.concatenate([p.vectors for p in parts]), parts[0].temperature, parts[0].bias)


def embed_images(models, frames: list[np.ndarray], batch: int = 8) -> np.ndarray:
    """Frames or crops (RGB uint8, one size per call) in the ``image_text`` space."""
    if not frames:
        return np.zeros((0, 0), np.float32)
    return np.concatenate(
        [_call(models, "image_text", "IMAGE", np.ascontiguousarray(np.stack(frames[i : i + batch])), "UINT8").vectors for i in range(0, len(frames), batch)]
    )


def embed_clips(models, clips: list[np.ndarray]) -> np.ndarray:
    """16 kHz mono clips in the ``audio_text`` space, one request each (their lengths differ)."""
    if not clips:
        return np.zeros((0, 0), np.float32)
    shortest = int(MIN_CLIP_S * 16000)
    clips = [np.pad(np.asarray(c, np.float32), (0, max(0, shortest - len(c)))) for c in clips]  # a click is still a clip
    with stage("audio-text (Triton)"):
        return np.concatenate([_call(models, "audio_text", "AUDIO", np.ascontiguousarray(c)[None, :], "FP32").vectors for c in clips])


def models_of(embed):
    """The Triton client behind a retriever's ``embed`` (``TritonModels.embed``, bound), or None."""
    owner = getattr(embed, "__self__", None)
    return owner if owner is not None and hasattr(owner, "serves") and hasattr(owner, "infer") else None


# -- the calibrated match ---------------------------------------------------------------------
def alternatives(phrase: str, space: str) -> list[str]:
    """What else could caption a moment: the space's generic captions that share no word with the phrase, and the
    phrase's parts around its prepositions ("a person with an umbrella" -> "a person", "an umbrella").

    >>> alternatives("a person with an umbrella", "image_text")[-2:]
    ['a person', 'an umbrella']
    >>> "music" in alternatives("music playing", "audio_text")
    False
    """
    words = set(content_words(phrase))
    generic = [g for g in GENERIC[space] if not set(content_words(g)) & words]
    parts = [p.strip(" ,") for p in PARTS_RX.split(phrase.lower()) if content_words(p)]
    parts = [p for p in parts if p != phrase.lower().strip()] if len(parts) > 1 else []
    return list(dict.fromkeys(generic + parts))


def content_words(text: str) -> list[str]:
    return [w for w in re.findall(r"[a-z0-9']+", text.lower()) if w not in STOP]


def match_probability(phrase_sims: np.ndarray, alternative_sims: np.ndarray, temperature: float) -> np.ndarray:
    """Per moment, the softmax share of the phrase among [phrase, *alternatives] at the model's temperature.

    >>> p = match_probability(np.array([0.30, 0.20]), np.array([[0.20, 0.21], [0.20, 0.21]]), 100.0)
    >>> [round(float(x), 3) for x in p]
    [1.0, 0.212]
    """
    logits = temperature * np.column_stack([phrase_sims, alternative_sims])
    logits -= logits.max(axis=1, keepdims=True)
    weights = np.exp(logits)
    return weights[:, 0] / weights.sum(axis=1)


def accept(phrase_sims: np.ndarray, alternative_sims: np.ndarray, temperature: float) -> tuple[np.ndarray, np.ndarray]:
    """(probability, believed) per moment: believed where the phrase takes at least ``ACCEPT`` of the probability and
    is closer than every alternative."""
    if not alternative_sims.shape[1]:
        return np.ones(len(phrase_sims)), np.ones(len(phrase_sims), bool)
    probability = match_probability(phrase_sims, alternative_sims, temperature)
    return probability, (probability >= ACCEPT) & (phrase_sims > alternative_sims.max(axis=1))


@dataclass
class Moment:
    t_start: float
    t_end: float
    sim: float  # cosine of the phrase and the moment's media
    probability: float  # the phrase's share against its alternatives (see the module docstring)
    event_id: str | None = None
    track_id: int | None = None
    ref: str = ""


@dataclass
class SearchResult:
    phrase: str
    space: str
    moments: list[Moment] = field(default_factory=list)  # accepted, best first
    best: Moment | None = None  # the closest candidate, accepted or not
    refused: str = ""  # why nothing was accepted


def _key(row: dict) -> tuple:
    return (row["t_start"], row["t_end"], row.get("event_id"), row.get("track_id"), row.get("ref") or "")


def merge(moments: list[Moment], gap_s: float = MERGE_GAP_S) -> list[Moment]:
    """Accepted moments close in time as one (its best sim and probability), best first.

    >>> [(m.t_start, m.t_end) for m in merge([Moment(0, 1, 0.3, 0.9), Moment(2, 3, 0.35, 0.8), Moment(9, 10, 0.2, 0.6)])]
    [(0, 3), (9, 10)]
    """
    out: list[Moment] = []
    for m in sorted(moments, key=lambda x: x.t_start):
        last = out[-1] if out else None
        if last is not None and m.t_start - last.t_end <= gap_s and m.track_id == last.track_id:
            last.t_end = max(last.t_end, m.t_end)
            if m.probability > last.probability:
                last.probability, last.event_id, last.ref = m.probability, m.event_id or last.event_id, m.ref or last.ref
            last.sim = max(last.sim, m.sim)
        else:
            out.append(Moment(**vars(m)))
    return sorted(out, key=lambda x: (-x.probability, -x.sim))


def search(graph, models, video_id: str, phrase: str, space: str, span=None, limit: int = 5, candidates: int = 48) -> SearchResult:
    """The moments of ``video_id`` whose media the phrase captions, accepted by the calibrated match, best first."""
    phrase = " ".join(phrase.split())
    if space not in SPACES:
        raise ZeroShotError(f"unknown space {space!r}: use one of {', '.join(SPACES)}")
    if not phrase:
        raise ZeroShotError("the phrase is empty: say what to look for, e.g. 'a person with an umbrella'")
    if models is None or not models.serves(space):
        raise ZeroShotError(f"Triton does not serve {space}: put a Hugging Face model folder in {weights_dir(space)} (or set {WEIGHTS_ENV[space]}) and restart")
    if space not in graph.media_spaces(video_id):
        lane = "look" if space == "image_text" else "sounds"
        raise ZeroShotError(f"video {video_id} has no {space} vectors: ingest it again with the {lane} lane while Triton serves {space}")
    others = alternatives(phrase, space)
    texts = embed_texts(models, space, [phrase, *others])
    rows = graph.nearest_media(video_id, space, texts.vectors[0], span, limit=candidates)
    result = SearchResult(phrase, space)
    if not rows:
        result.refused = "nothing in that time range has been embedded"
        return result
    keyed = {_key(r): i for i, r in enumerate(rows)}
    alt = np.full((len(rows), len(others)), -1.0, np.float32)
    for j, vector in enumerate(texts.vectors[1:]):
        for r in graph.nearest_media(video_id, space, vector, span, limit=1_000_000):
            i = keyed.get(_key(r))
            if i is not None:
                alt[i, j] = r["sim"]
    sims = np.array([r["sim"] for r in rows], np.float32)
    probability, believed = accept(sims, alt, texts.temperature)
    found = [
        Moment(float(r["t_start"]), float(r["t_end"]), round(float(s), 4), round(float(p), 4), r.get("event_id"), r.get("track_id"), r.get("ref") or "")
        for r, s, p in zip(rows, sims, probability)
    ]
    result.best = max(found, key=lambda m: (m.probability, m.sim))
    accepted = [m for m, ok in zip(found, believed) if ok]
    result.moments = merge(accepted)[:limit]
    if not result.moments:
        result.refused = (
            f"no moment is captioned by {phrase!r} better than by {', '.join(repr(o) for o in others[:3])}...: "
            f"the best candidate at {result.best.t_start:.1f} s has {result.best.probability:.0%} (needs {ACCEPT:.0%})"
        )
    return result


def nearest_to_vector(graph, video_id: str, space: str, vector, limit: int = 5) -> list[dict]:
    """Media rows ranked by cosine to a media vector of the same space (a frame's own embedding finds that frame)."""
    return graph.nearest_media(video_id, space, np.asarray(vector, np.float32), limit=limit)


# -- questions --------------------------------------------------------------------------------
QUESTION_HEAD_RX = re.compile(
    r"^(?:(?:when|where|at what time|how often|how many times)\s+(?:is|are|was|were|does|do|did|can)?\s*(?:there\s+)?(?:you\s+)?(?:see|hear)?\s*|"
    r"(?:is|are|was|were)\s+there\s+|(?:do|did|can)\s+(?:you|we|i)\s+(?:see|hear)\s+|(?:show|find)\s+(?:me\s+)?(?:the\s+moments?\s+(?:with|of|when)\s+)?|any\s+)"
)
QUESTION_TAIL_RX = re.compile(
    r"\s+(?:appears?|appeared|seen|visible|shown|in view|in the video|in the picture|on screen|heard|audible|happens?|happened|"
    r"sounds?|goes off|went off|starts?|occurs?|be seen|be heard)(?:\s.*)?$"
)
HEARD_RX = re.compile(r"\b(?:hear|heard|sound|sounds|noise|noises|audible|listen)\b")


def phrase_of(question: str) -> str:
    """The thing a question asks to see or hear, as a caption: "when does a person with an umbrella appear?" ->
    "a person with an umbrella".

    >>> phrase_of("When does a person with an umbrella appear?"), phrase_of("is there an open car boot?")
    ('a person with an umbrella', 'an open car boot')
    >>> phrase_of("Do you hear a kettle whistling?")
    'a kettle whistling'
    """
    text = " ".join(question.lower().strip().rstrip("?.!").split())
    text = QUESTION_HEAD_RX.sub("", text, count=1)
    text = re.sub(r"^(?:does|do|did|is|are|was|were)\s+", "", text)
    return QUESTION_TAIL_RX.sub("", text).strip(" ,")


def space_of(question: str, lanes: list[str]) -> str:
    """``audio_text`` for a question about something heard, else ``image_text``."""
    return "audio_text" if "sound" in lanes or HEARD_RX.search(question.lower()) else "image_text"


def question_moments(graph, embed, video_id: str, question: str, lanes: list[str], uncovered: bool, span=None) -> tuple[str, list[Moment]]:
    """For retrieval: where the graph's labels and words do not cover what a question asks to see or hear
    (``uncovered``), the moments its phrase is accepted at, in the space the question is about. ("", []) where the
    video has no vectors in that space or Triton does not serve its model: retrieval goes on without them."""
    space = space_of(question, lanes)
    models = models_of(embed)
    phrase = phrase_of(question)
    if not uncovered or models is None or not content_words(phrase) or space not in graph.media_spaces(video_id) or not models.serves(space):
        return "", []
    try:
        return space, search(graph, models, video_id, phrase, space, span).moments
    except Exception as exc:  # noqa: BLE001 - a model that fails here leaves the answer to the graph's own evidence
        log.warning("zero-shot search of %r in %s failed: %s", phrase, space, exc)
        return "", []
