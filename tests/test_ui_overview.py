"""What the page offers before anyone asks (suggested questions, the "what it knows" summary), the events
table's label alternatives, and key-frame thumbnails made from a real video. No browser: the browser tests
of the same features are in test_ui.py."""

from __future__ import annotations

from orchestrator.events import Event
from ui.app import AppState
from ui.overview import knowledge, suggested_questions
from ui.thumbnails import Thumbnails, key_time


def street() -> list[Event]:
    return [
        Event("p1", "object", "person", 2.0, 8.0, 0.9, track_id=1),
        Event("p2", "object", "person", 9.0, 12.0, 0.8, track_id=1),  # the same track in the next window: one person
        Event("p3", "object", "person", 20.0, 24.0, 0.7, track_id=5),
        Event("c1", "object", "car", 5.0, 30.0, 0.8, track_id=2, attrs={"best_t": 11.2}),
        Event("t1", "object", "truck", 15.0, 18.0, 0.6, track_id=3),
        Event("s1", "speech", "speech", 1.0, 61.0, text="a long talk"),
        Event("s2", "speech", "speech", 70.0, 100.0, text="more of it"),
        Event("a1", "sound", "siren", 40.0, 44.0, 0.7),
        Event("a2", "sound", "dog bark", 50.0, 51.0, 0.7),
        Event("al", "alert", "loitering", 20.0, 24.0, text="a person stayed 4 s"),
        Event("x1", "text", "EXIT", 3.0, 30.0, text="EXIT"),
    ]


def test_suggestions_come_from_what_the_graph_holds():
    qs = suggested_questions(street())
    assert qs == ["What is said at the start?", "When does the first car appear?", "Does a siren go off?", "Were there any alerts?"]
    # a quiet video of people only: no speech, sound or alarm question, no vehicle
    people = [e for e in street() if e.label == "person"]
    assert suggested_questions(people) == ["When does the first person appear?"]
    tone = [Event("n", "sound", "tone", 30.0, 31.0)]
    assert suggested_questions(tone) == ["When is the tone heard?"]  # no alarm is suggested where none was heard
    assert suggested_questions([]) == []


def test_knowledge_counts_tracks_minutes_and_opens_the_right_filter():
    facts = {f.key: f for f in knowledge(street())}
    assert list(facts) == ["people", "vehicles", "speech", "sounds", "alerts", "text"]
    assert facts["people"].text == "2 people" and (facts["people"].kind, facts["people"].label) == ("object", "person")
    assert facts["vehicles"].text.startswith("2 vehicles") and facts["vehicles"].label == "car, truck"
    assert facts["speech"].text == "1.5 min of speech" and facts["speech"].kind == "speech"
    assert facts["sounds"].text == "2 sounds (siren, dog bark)" or facts["sounds"].text == "2 sounds (dog bark, siren)"
    assert facts["alerts"].text == "1 alert" and facts["text"].text == "1 text on screen"
    assert knowledge([Event("s", "speech", "speech", 0.0, 2.4, text="hi")])[0].text == "2 s of speech"


class Events(AppState):
    def __init__(self, events):  # only what the table's filter reads
        self._events = events

    def events(self, video_id):
        return self._events


def test_label_filter_takes_alternatives():
    state = Events(street())
    assert {e.id for e in state.filtered_events("v", "object", "car, truck")} == {"c1", "t1"}
    assert {e.id for e in state.filtered_events("v", "object", "person")} == {"p1", "p2", "p3"}
    assert {e.id for e in state.filtered_events("v", "all", " , ")} == {e.id for e in street()}  # empty parts: no filter


def test_thumbnails_are_the_key_frames_of_a_real_video(media_dir, tmp_path):
    import cv2

    events = [
        Event("c1", "object", "car", 0.0, 9.0, attrs={"best_t": 1.26}),
        Event("m", "motion", "motion", 2.0, 3.0),
        Event("m2", "motion", "motion", 2.1, 2.9),
    ]
    assert [key_time(e) for e in events] == [1.5, 2.5, 2.5]  # the best sighting; the middle; the same half second shares one
    thumbs = Thumbnails(tmp_path / "thumbs", side=160)
    try:
        assert thumbs.path("v", events[0]) is None and thumbs.version("v") == "0"
        assert thumbs.request("v", str(media_dir / "bikes.mp4"), events) == 2
        assert thumbs.version("v").endswith("+") or thumbs.ready("v") == 2  # still making them, unless already done
        assert thumbs.wait_idle(60) and thumbs.version("v") == "0"  # done: the page redraws once more
        assert thumbs.ready("v") == 2 and thumbs.request("v", str(media_dir / "bikes.mp4"), events) == 0  # made once
        img = cv2.imread(str(thumbs.path("v", events[0])))
        assert img is not None and max(img.shape[:2]) == 160 and img.std() > 10  # a real picture, not a blank
    finally:
        thumbs.close()
