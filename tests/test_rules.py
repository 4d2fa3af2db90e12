"""Rules on the ground-truth clip: each rule type fires exactly where it should and nowhere else,
during ingest and on re-run (identically), re-running is idempotent, and a malformed rule file
gives a located error and changes nothing."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import REPO, run_cli

from orchestrator.graph import EventGraph
from orchestrator.pipeline import Ingestor, database_path, rerun_rules
from orchestrator.rules import RulesError, load_rules

RULES = Path(__file__).parent / "data" / "ground_truth_rules.yaml"
EXPECTED_AT = {  # rule -> (earliest, latest) time the single alert may have
    "hit-presence": (4.0, 5.5),
    "hit-absence": (20.5, 23.0),
    "hit-count": (4.0, 5.5),
    "hit-dwell": (6.0, 12.0),
    "hit-speed": (4.0, 12.0),
    "hit-sound": (29.8, 30.2),
    "hit-speech": (18.0, 19.2),
    "hit-sequence": (18.0, 19.2),
    "hit-cooccur": (24.8, 25.3),
}


def _alerts(home, video_id) -> list[dict]:
    with EventGraph(database_path(home), read_only=True) as g:
        return g.events(video_id, "alert")


def _check(alerts: list[dict]) -> None:
    by_rule: dict[str, list[dict]] = {}
    for a in alerts:
        by_rule.setdefault(a["label"], []).append(a)
    assert not [r for r in by_rule if r.startswith("miss-")], by_rule.keys()
    for rule, (lo, hi) in EXPECTED_AT.items():
        got = by_rule.get(rule, [])
        assert len(got) == 1, (rule, got)
        assert lo <= got[0]["t_start"] <= hi, (rule, got[0]["t_start"])


@pytest.fixture(scope="module")
def ingested_with_rules(gt_clip, triton, redis_server, tmp_path_factory):
    """The clip ingested with the rules in <home>/rules, so alerts are raised window by window."""
    from orchestrator.pipeline import Services

    home = tmp_path_factory.mktemp("rules-home")
    (home / "rules").mkdir()
    shutil.copy(RULES, home / "rules" / "gt.yaml")
    mp = pytest.MonkeyPatch()
    mp.setenv("TRITON_URL", triton.http_url)
    mp.setenv("REDIS_URL", redis_server.url)
    try:
        with Services() as services:
            summary = Ingestor(home, services).ingest(gt_clip[0])
    finally:
        mp.undo()
    return home, summary.video_id


def test_every_rule_type_fires_exactly_where_it_should_during_ingest(ingested_with_rules):
    home, vid = ingested_with_rules
    alerts = _alerts(home, vid)
    _check(alerts)
    speech = next(a for a in alerts if a["label"] == "hit-speech")
    assert speech["text"].startswith('said "') and "station" in speech["text"].lower()
    assert speech["attrs"]["severity"] == "medium" and speech["attrs"]["evidence"]


def test_alerts_link_to_their_evidence(ingested_with_rules):
    home, vid = ingested_with_rules
    with EventGraph(database_path(home), read_only=True) as g:
        rows = g.con.execute(
            """SELECT r.src, e.kind FROM relations r JOIN events e ON e.video_id = r.video_id AND e.id = r.dst
                                WHERE r.video_id = ? AND r.kind = 'triggered_by'""",
            [vid],
        ).fetchall()
    kinds = {src.split("-")[1] + "-" + src.split("-")[2]: kind for src, kind in rows}
    assert kinds["hit-speech"] == "speech" and kinds["hit-presence"] == "object" and kinds["hit-sound"] == "sound"


def test_rerun_over_the_finished_video_gives_the_same_alerts_and_is_idempotent(ingested_with_rules):
    home, vid = ingested_with_rules
    during = sorted((a["id"], a["t_start"], a["text"]) for a in _alerts(home, vid))
    with EventGraph(database_path(home)) as g:
        rerun_rules(g, vid, load_rules(RULES))
        rerun_rules(g, vid, load_rules(RULES))
        relations = g.con.execute("SELECT count(*) FROM relations WHERE video_id = ? AND kind = 'triggered_by'", [vid]).fetchone()[0]
    after = sorted((a["id"], a["t_start"], a["text"]) for a in _alerts(home, vid))
    assert after == during
    assert relations == len(during) + 2  # one evidence each; the sequence and the co-occurrence have two


def test_cli_rules_run_on_a_video_ingested_without_rules(gt_ingested, tmp_path):
    summary, _, _, _, home = gt_ingested
    work = tmp_path / "home"
    shutil.copytree(home, work)
    out = run_cli("rules", "run", summary.video_id, str(RULES), "--json", env_extra={"VDET_HOME": str(work)})
    assert out.returncode == 0, out.stderr
    _check(json.loads(out.stdout.strip().splitlines()[-1]))
    _check(_alerts(work, summary.video_id))


@pytest.mark.parametrize(
    "text, where, what",
    [
        ("rules:\n  - id: a\n    when: {presence: {object: person}\n", ":4", "not valid YAML"),
        ("rules:\n  - id: a\n    when:\n      presence: {object: person}\n      speech: {phrase: hi}\n", ":3", "exactly one condition"),
        (
            "rules:\n  - id: ok\n    when: {speech: {phrase: hi}}\n  - id: b\n    when:\n      count: {object: person, min: many, within_s: 5}\n",
            ":6",
            "rule 'b': when.count.min",
        ),
        ("rules:\n  - id: c\n    when:\n      dwell: {object: person, zone: [[0, 0], [2, 0], [1, 1]], min_s: 1}\n", ":4", "between 0 and 1"),
        ("rules:\n  - id: d\n    severity: extreme\n    when: {speech: {phrase: hi}}\n", ":3", "severity"),
        ("rules:\n  - id: e\n    when: {speech: {phrase: hi}}\n    colour: red\n", ":4", "colour"),
    ],
)
def test_malformed_rule_files_give_located_errors(tmp_path, text, where, what):
    f = tmp_path / "bad.yaml"
    f.write_text(text)
    with pytest.raises(RulesError) as err:
        load_rules(f)
    message = str(err.value)
    assert f"{f}{where}:" in message and what in message, message


def test_a_malformed_file_changes_nothing(gt_ingested, tmp_path):
    summary, _, _, _, home = gt_ingested
    work = tmp_path / "home"
    shutil.copytree(home, work)
    run_cli("rules", "run", summary.video_id, str(RULES), env_extra={"VDET_HOME": str(work)})
    before = _alerts(work, summary.video_id)
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules:\n  - id: x\n    when: {speed: {object: car}}\n")
    out = run_cli("rules", "run", summary.video_id, str(bad), env_extra={"VDET_HOME": str(work)})
    assert out.returncode == 2 and "bad.yaml:3" in out.stderr and "min_speed" in out.stderr
    assert _alerts(work, summary.video_id) == before


def test_shipped_example_rule_sets_are_valid():
    for f in sorted((REPO / "rules").glob("*.yaml")):
        assert load_rules(f), f


def test_a_rule_for_a_sound_matches_the_names_people_accept_for_it():
    from orchestrator.events import Event
    from orchestrator.rules import Match, matches

    assert matches(Match(sound="alarm"), Event("s1", "sound", "beeping", 1, 2))  # beeping is accepted as an alarm
    assert matches(Match(sound="bang"), Event("s2", "sound", "gunshot", 1, 2))
    assert not matches(Match(sound="alarm"), Event("s3", "sound", "music", 1, 2))
