"""Exact evaluation of question answering on your own footage: ``python -m orchestrator eval SUITE.yaml``.

A suite is a YAML (or JSON) file of questions about one video, each with the facts the answer must
contain and the time windows its citations must land on — no judge model, the checks are exact:

    video: bikes.mp4            # relative: to the suite's folder, then $VDET_TEST_MEDIA
    questions:
      - q: "When does the phone ring?"
        kind: when              # count|when|duration|said|heard|seen|colour|text|yesno|summary|compare
        scope: none             # none|absolute|relative|anchored|ordinal
        facts: ["ring"]         # every item must appear (case-insensitive); an item may be a list = any of them
        not_facts: []           # none of these may appear
        times: [[33.0, 36.0]]   # at least one citation must overlap each window (1 s tolerance)
        answer: yes             # optional, yes/no questions: the answer's first word
        count: 3                # optional, counting questions: the number is in the first sentence

A question is correct when all of its checks hold. The report gives accuracy per question kind and
per time scope, citation accuracy (questions whose every window was cited) and precision (cited
moments that land on a window), and first-token / total latency p50 and p95.
"""

from __future__ import annotations

import json
import re
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

KINDS = ("count", "when", "duration", "said", "heard", "seen", "colour", "text", "yesno", "summary", "compare")
SCOPES = ("none", "absolute", "relative", "anchored", "ordinal")
TOLERANCE_S = 1.0
NUMBER_WORDS = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
    "twenty",
]


class SuiteError(LookupError, ValueError):
    """A suite file that cannot be read; the message names the file and the question."""


@dataclass
class SuiteQuestion:
    q: str
    kind: str
    scope: str = "none"
    facts: list = field(default_factory=list)  # str or list[str] (any of them)
    not_facts: list[str] = field(default_factory=list)
    times: list[list[float]] = field(default_factory=list)
    answer: str | None = None  # "yes" | "no"
    count: int | None = None


@dataclass
class Suite:
    path: Path
    video: Path
    questions: list[SuiteQuestion]


def media_dir() -> Path:
    from .settings import get_settings  # noqa: PLC0415

    return get_settings().test_media


def resolve_video(spec: str, suite_dir: Path) -> Path:
    """A suite's ``video``: as given when absolute, else next to the suite, else in $VDET_TEST_MEDIA."""
    p = Path(spec).expanduser()
    if p.is_absolute():
        return p
    for base in (suite_dir, media_dir()):
        if (base / p).exists():
            return (base / p).resolve()
    return (suite_dir / p).resolve()


def _yes_no(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):  # YAML reads a bare yes/no as a boolean
        return "yes" if value else "no"
    v = str(value).strip().lower()
    if v not in ("yes", "no"):
        raise ValueError(f"answer must be yes or no, not {value!r}")
    return v


def parse_suite(doc: dict, path: Path) -> Suite:
    where = str(path)
    if not isinstance(doc, dict) or "video" not in doc or not isinstance(doc.get("questions"), list):
        raise SuiteError(f"{where}: a suite needs 'video' and a list of 'questions'")
    questions = []
    for i, item in enumerate(doc["questions"], 1):
        try:
            if not isinstance(item, dict) or not str(item.get("q", "")).strip():
                raise ValueError("every question needs 'q'")
            unknown = set(item) - {"q", "kind", "scope", "facts", "not_facts", "times", "answer", "count"}
            if unknown:
                raise ValueError(f"unknown key(s) {sorted(unknown)}")
            kind = str(item.get("kind", "")).strip()
            if kind not in KINDS:
                raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
            scope = str(item.get("scope", "none") or "none").strip()
            if scope not in SCOPES:
                raise ValueError(f"scope must be one of {', '.join(SCOPES)}, not {scope!r}")
            facts = item.get("facts") or []
            if not isinstance(facts, list) or not all(isinstance(f, (str, int, float)) or (isinstance(f, list) and f) for f in facts):
                raise ValueError("facts must be a list of strings (or lists of strings: any of them)")
            facts = [[str(x) for x in f] if isinstance(f, list) else str(f) for f in facts]
            times = item.get("times") or []
            if not all(isinstance(w, (list, tuple)) and len(w) == 2 and all(isinstance(x, (int, float)) for x in w) for w in times):
                raise ValueError("times must be a list of [start, end] pairs in seconds")
            count = item.get("count")
            if count is not None and (isinstance(count, bool) or not isinstance(count, int)):
                raise ValueError("count must be a whole number")
            questions.append(
                SuiteQuestion(
                    str(item["q"]),
                    kind,
                    scope,
                    facts,
                    [str(x) for x in item.get("not_facts") or []],
                    [[float(a), float(b)] for a, b in times],
                    _yes_no(item.get("answer")),
                    count,
                )
            )
        except ValueError as exc:
            raise SuiteError(f"{where}: question {i}: {exc}") from None
    return Suite(path, resolve_video(str(doc["video"]), path.parent), questions)


def load_suite(path: str | Path) -> Suite:
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise SuiteError(f"{path}: {exc.strerror or exc}") from None
    try:
        if path.suffix.lower() == ".json":
            doc = json.loads(text)
        else:
            import yaml  # noqa: PLC0415

            doc = yaml.safe_load(text)
    except Exception as exc:  # noqa: BLE001 - a parse error names the file and where
        raise SuiteError(f"{path}: cannot parse: {exc}") from None
    return parse_suite(doc, path)


# ---------------------------------------------------------------------------------------------
# scoring (pure)


def first_sentence(text: str) -> str:
    text = re.sub(r"^\(Still ingesting[^)]*\)\s*", "", text.strip())
    m = re.search(r"(?<!\d)[.!?](?:\s|$)|\n", text)
    return text[: m.start() + 1] if m else text


def _has_number(sentence: str, n: int) -> bool:
    s = sentence.lower()
    s = re.sub(r"\[[\d:]+\]", " ", s)  # times are not counts
    if re.search(rf"(?<![\d.:]){n}(?![\d:])", s):
        return True
    return 0 <= n < len(NUMBER_WORDS) and re.search(rf"\b{NUMBER_WORDS[n]}\b", s) is not None or (n == 0 and re.search(r"\bno\b|\bnone\b", s) is not None)


def overlaps(citation: tuple[float, float], window: list[float], tolerance: float = TOLERANCE_S) -> bool:
    return citation[0] <= window[1] + tolerance and citation[1] >= window[0] - tolerance


def score_answer(question: SuiteQuestion, text: str, citations: list[tuple[float, float]]) -> dict[str, bool]:
    """The checks a question asks for, each True or False (``correct`` is all of them)."""
    low = text.lower()
    checks: dict[str, bool] = {}
    if question.facts:
        checks["facts"] = all(any(x.lower() in low for x in (f if isinstance(f, list) else [f])) for f in question.facts)
    if question.not_facts:
        checks["not_facts"] = not any(x.lower() in low for x in question.not_facts)
    if question.answer is not None:
        first = re.findall(r"[a-z]+", low[:40])
        checks["answer"] = bool(first) and first[0] == question.answer
    if question.count is not None:
        checks["count"] = _has_number(first_sentence(text), question.count)
    if question.times:
        checks["times"] = all(any(overlaps(c, w) for c in citations) for w in question.times)
    checks["correct"] = all(checks.values())
    return checks


@dataclass
class Outcome:
    q: str
    kind: str
    scope: str
    checks: dict[str, bool]
    answer: str
    citations: list[tuple[float, float]]
    ttft_ms: float = 0.0
    total_ms: float = 0.0
    precision_hits: int = 0  # citations that land on one of the question's windows
    error: str = ""

    @property
    def correct(self) -> bool:
        return bool(self.checks.get("correct"))


def outcome_for(question: SuiteQuestion, text: str, citations: list[tuple[float, float]], ttft_ms: float = 0.0, total_ms: float = 0.0) -> Outcome:
    checks = score_answer(question, text, citations)
    hits = sum(1 for c in citations if any(overlaps(c, w) for w in question.times)) if question.times else 0
    return Outcome(question.q, question.kind, question.scope, checks, text, list(citations), ttft_ms, total_ms, hits)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def summarise(outcomes: list[Outcome]) -> dict:
    def acc(items: list[Outcome]) -> dict:
        return {"n": len(items), "correct": sum(o.correct for o in items), "accuracy": round(sum(o.correct for o in items) / len(items), 3) if items else None}

    timed = [o for o in outcomes if "times" in o.checks]
    cited = [c for o in timed for c in o.citations]
    return {
        "questions": len(outcomes),
        "accuracy": acc(outcomes)["accuracy"],
        "correct": sum(o.correct for o in outcomes),
        "by_kind": {k: acc([o for o in outcomes if o.kind == k]) for k in KINDS if any(o.kind == k for o in outcomes)},
        "by_scope": {s: acc([o for o in outcomes if o.scope == s]) for s in SCOPES if any(o.scope == s for o in outcomes)},
        "citation_accuracy": round(sum(o.checks["times"] for o in timed) / len(timed), 3) if timed else None,
        "citation_precision": round(sum(o.precision_hits for o in timed) / len(cited), 3) if cited else None,
        "facts_accuracy": round(
            sum(
                o.checks.get("facts", True) and o.checks.get("not_facts", True) and o.checks.get("answer", True) and o.checks.get("count", True)
                for o in outcomes
            )
            / len(outcomes),
            3,
        )
        if outcomes
        else None,
        "ttft_ms": {"p50": round(percentile([o.ttft_ms for o in outcomes], 0.5), 1), "p95": round(percentile([o.ttft_ms for o in outcomes], 0.95), 1)},
        "total_ms": {"p50": round(percentile([o.total_ms for o in outcomes], 0.5), 1), "p95": round(percentile([o.total_ms for o in outcomes], 0.95), 1)},
        "errors": sum(1 for o in outcomes if o.error),
    }


def format_report(name: str, summary: dict, outcomes: list[Outcome], verbose: bool = False) -> str:
    lines = [f"{name}: {summary['correct']}/{summary['questions']} correct ({_pct(summary['accuracy'])})"]
    lines.append("  by kind:  " + ", ".join(f"{k} {v['correct']}/{v['n']}" for k, v in summary["by_kind"].items()))
    lines.append("  by scope: " + ", ".join(f"{k} {v['correct']}/{v['n']}" for k, v in summary["by_scope"].items()))
    lines.append(
        f"  citations: accuracy {_pct(summary['citation_accuracy'])}, precision {_pct(summary['citation_precision'])}; facts {_pct(summary['facts_accuracy'])}"
    )
    lines.append(
        f"  latency: first token p50 {summary['ttft_ms']['p50']:.0f} ms / p95 {summary['ttft_ms']['p95']:.0f} ms; "
        f"total p50 {summary['total_ms']['p50']:.0f} ms / p95 {summary['total_ms']['p95']:.0f} ms"
    )
    for o in outcomes:
        if verbose or not o.correct:
            failed = [k for k, v in o.checks.items() if not v and k != "correct"]
            mark = "ok  " if o.correct else "FAIL"
            lines.append(f"  {mark} [{o.kind}/{o.scope}] {o.q}" + (f"  ({', '.join(failed)})" if failed else "") + (f"  error: {o.error}" if o.error else ""))
            if not o.correct:
                lines.append("       " + " ".join(o.answer.split())[:240])
    return "\n".join(lines)


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.0f}%"


def merge(summaries: list[tuple[str, list[Outcome]]]) -> dict:
    return summarise([o for _, outs in summaries for o in outs])


# ---------------------------------------------------------------------------------------------
# running a suite (real graph, real embedder, real Redis)


def ensure_ingested(video: Path, home: Path, services) -> str:
    """The video's id, ingesting it first when this home has not finished it."""
    from .graph import EventGraph  # noqa: PLC0415
    from .pipeline import Ingestor, database_path, file_sha256  # noqa: PLC0415

    video_id = file_sha256(video)[:16]
    db = database_path(home)
    if db.exists():
        with EventGraph(db, read_only=True) as g:
            row = g.video(video_id)
        if row is not None and row.get("status") == "done":
            return video_id
    print(f"ingesting {video.name} into {home} ...", file=sys.stderr, flush=True)
    return Ingestor(home, services).ingest(video).video_id


def run_suites(paths: list[str | Path], home: Path, on_outcome=None) -> list[tuple[str, list[Outcome]]]:
    import redis  # noqa: PLC0415

    from .ask import AskService  # noqa: PLC0415
    from .graph import EventGraph  # noqa: PLC0415
    from .model_clients import TritonModels  # noqa: PLC0415
    from .pipeline import Services, database_path  # noqa: PLC0415

    suites = [load_suite(p) for p in paths]
    for s in suites:
        if not s.video.exists():
            raise SuiteError(f"{s.path}: video {s.video} not found (relative paths resolve against the suite's folder, then $VDET_TEST_MEDIA)")
    results: list[tuple[str, list[Outcome]]] = []
    with Services() as services:
        ids = [ensure_ingested(s.video, home, services) for s in suites]
        graph = EventGraph(database_path(home), read_only=True)
        models = TritonModels(services.triton_url)
        try:
            service = AskService(graph.cursor, redis.Redis.from_url(services.bus.url), embed=models.embed)
            service.ask("eval-warmup", ids[0], "what happens?")
            for suite, vid in zip(suites, ids):
                outcomes = []
                for i, question in enumerate(suite.questions):
                    session = f"eval-{vid[:8]}-{i}-{int(time.time() * 1000) % 100000}"
                    try:
                        a = service.ask(session, vid, question.q)
                        o = outcome_for(question, a.text, [(c.t_start, c.t_end) for c in a.citations], a.ttft_ms, a.total_ms)
                    except Exception as exc:  # noqa: BLE001 - one failing question is a wrong answer, not a failed run
                        o = outcome_for(question, "", [])
                        o.checks["correct"], o.error = False, f"{type(exc).__name__}: {exc}"
                    finally:
                        service.store.clear(session)
                    outcomes.append(o)
                    if on_outcome:
                        on_outcome(suite, o)
                results.append((suite.path.name, outcomes))
        finally:
            models.close()
            graph.close()
    return results


def cmd_eval(args) -> int:
    from .config import default_home  # noqa: PLC0415

    home = Path(args.home).expanduser() if args.home else default_home()
    home.mkdir(parents=True, exist_ok=True)
    results = run_suites(args.suites, home)
    if args.json:
        doc = {"suites": {name: {"summary": summarise(outs), "outcomes": [asdict(o) for o in outs]} for name, outs in results}, "overall": merge(results)}
        print(json.dumps(doc))
        return 0
    for name, outs in results:
        print(format_report(name, summarise(outs), outs, verbose=args.verbose))
    if len(results) > 1:
        print(format_report("all suites", merge(results), [], verbose=False))
    return 0


def add_parser(sub) -> None:
    p = sub.add_parser("eval", help="run question suites (YAML/JSON) against their videos and report accuracy, citations and latency")
    p.add_argument("suites", nargs="+", help="suite files; each names its video (ingested first if this home has not got it)")
    p.add_argument("--home", help="data directory (default $VDET_HOME or ~/.cache/video-detective/home)")
    p.add_argument("--json", action="store_true", help="print one JSON object with every outcome and the summaries")
    p.add_argument("--verbose", "-v", action="store_true", help="list every question, not only the failed ones")
    p.set_defaults(func=cmd_eval)
