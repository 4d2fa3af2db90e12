"""The evaluation's suite loader and scorer (pure, no models), and the shipped suites parse."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from synthetic_graph import clip_graph

from orchestrator.answer import AnswerRequest, ExtractiveEngine
from orchestrator.evaluation import SuiteError, SuiteQuestion, first_sentence, load_suite, outcome_for, parse_suite, score_answer, summarise
from orchestrator.retrieval import Retriever

SUITES = sorted((Path(__file__).parent / "eval").glob("*.yaml"))


def q(**kw) -> SuiteQuestion:
    return SuiteQuestion(**{"q": "?", "kind": "when", **kw})


def test_facts_any_of_and_not_facts():
    question = q(facts=["ring", ["00:33", "00:34"]], not_facts=["cell phone"])
    assert score_answer(question, "Ringing is heard at [00:33].", [])["correct"]
    assert not score_answer(question, "Ringing is heard at [00:40].", [])["correct"]
    assert not score_answer(question, "A cell phone rings at [00:33].", [])["not_facts"]


def test_times_need_an_overlapping_citation_with_one_second_of_tolerance():
    question = q(times=[[33.0, 36.0], [60.0, 66.0]])
    assert score_answer(question, "", [(36.9, 40.0), (59.5, 61.0)])["times"]
    assert not score_answer(question, "", [(37.5, 40.0), (59.5, 61.0)])["times"]
    assert score_answer(q(times=[]), "anything", [])["correct"]


def test_yes_no_is_the_first_word_and_counts_are_in_the_first_sentence():
    assert score_answer(q(kind="yesno", answer="yes"), "Yes — a siren sounds at [12:04] for 9 s.", [])["correct"]
    assert not score_answer(q(kind="yesno", answer="no"), "Yes — a siren sounds.", [])["correct"]
    assert score_answer(q(kind="count", count=3), "I counted 3 people. Later 7 more.", [])["count"]
    assert score_answer(q(kind="count", count=3), "I counted three people.", [])["count"]
    assert not score_answer(q(kind="count", count=7), "I counted 3 people. Later 7 more.", [])["count"]
    assert not score_answer(q(kind="count", count=4), "A car at [00:04].", [])["count"]  # a time is not a count
    assert first_sentence("(Still ingesting: 2 of 3 windows.) I counted 2 cars. More") == "I counted 2 cars."


def test_summary_per_kind_scope_citations_and_latency():
    outs = [
        outcome_for(q(kind="when", scope="none", times=[[1, 2]]), "x", [(1.5, 1.6), (9, 10)], 10, 50),
        outcome_for(q(kind="count", scope="relative", count=2), "2 cars", [], 30, 70),
        outcome_for(q(kind="when", scope="anchored", times=[[5, 6]]), "x", [(20, 21)], 20, 60),
    ]
    s = summarise(outs)
    assert s["questions"] == 3 and s["correct"] == 2 and s["by_kind"]["when"] == {"n": 2, "correct": 1, "accuracy": 0.5}
    assert s["by_scope"]["relative"]["correct"] == 1
    assert s["citation_accuracy"] == 0.5 and s["citation_precision"] == round(1 / 3, 3)
    assert s["ttft_ms"]["p50"] == 20 and s["total_ms"]["p95"] == 70


def test_suite_format_and_errors_name_the_file_and_question(tmp_path):
    doc = {"video": "clip.mp4", "questions": [{"q": "Is there a dog?", "kind": "yesno", "scope": "none", "facts": [], "times": [], "answer": False}]}
    (tmp_path / "clip.mp4").write_bytes(b"")
    path = tmp_path / "s.json"
    path.write_text(json.dumps(doc))
    suite = load_suite(path)
    assert suite.video == (tmp_path / "clip.mp4").resolve() and suite.questions[0].answer == "no"
    (tmp_path / "y.yaml").write_text("video: clip.mp4\nquestions:\n  - q: Is there a dog?\n    kind: yesno\n    answer: no\n")
    assert load_suite(tmp_path / "y.yaml").questions[0].answer == "no"  # YAML's bare no is a boolean
    with pytest.raises(SuiteError, match=r"s\.json: question 1: kind must be one of"):
        parse_suite({**doc, "questions": [{"q": "x", "kind": "why"}]}, path)
    with pytest.raises(SuiteError, match="unknown key"):
        parse_suite({**doc, "questions": [{"q": "x", "kind": "when", "fact": []}]}, path)
    with pytest.raises(SuiteError, match="times must be"):
        parse_suite({**doc, "questions": [{"q": "x", "kind": "when", "times": [3]}]}, path)


def test_video_resolves_against_the_suite_folder_then_the_test_media(tmp_path, monkeypatch):
    media = tmp_path / "media"
    media.mkdir()
    (media / "bikes.mp4").write_bytes(b"")
    monkeypatch.setenv("VDET_TEST_MEDIA", str(media))
    suite = parse_suite({"video": "bikes.mp4", "questions": []}, tmp_path / "suites" / "s.yaml")
    assert suite.video == (media / "bikes.mp4").resolve()


@pytest.mark.parametrize("path", SUITES, ids=[p.name for p in SUITES])
def test_shipped_suites_parse(path):
    suite = load_suite(path)
    assert len(suite.questions) >= 10
    kinds = {x.kind for x in suite.questions}
    assert len(kinds) >= 5


def test_scoring_an_extractive_answer_end_to_end():
    con, vid = clip_graph()
    r = Retriever(con).retrieve(vid, "When does the phone ring?")
    req = AnswerRequest("When does the phone ring?", r)
    text = "".join(ExtractiveEngine().stream(req, threading.Event()))
    o = outcome_for(q(facts=["ring"], not_facts=["cell phone"], times=[[33.0, 36.0]]), text, [(c.t_start, c.t_end) for c in req.citations])
    assert o.correct, text
    con.close()
