"""Appearance attributes: colour names, size, region, motion (synthetic crops, plus one real photo)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from orchestrator.appearance import TrackAppearance, crop, describe_track, dominant_colours, frame_region, motion, name_colour, object_colours, size_class

TEST_MEDIA = Path(os.environ.get("VDET_TEST_MEDIA", Path.home() / ".cache/video-detective/test-media"))


def solid(rgb, h=60, w=40, noise=6, seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    img = np.clip(np.array(rgb, np.float32) + rng.normal(0, noise, (h, w, 3)), 0, 255)
    return img.astype(np.uint8)


@pytest.mark.parametrize(
    "rgb,name",
    [
        ((250, 250, 250), "white"),
        ((15, 15, 18), "black"),
        ((128, 128, 130), "grey"),
        ((185, 188, 192), "silver"),
        ((210, 25, 30), "red"),
        ((110, 15, 20), "dark red"),
        ((240, 130, 20), "orange"),
        ((240, 215, 40), "yellow"),
        ((40, 150, 50), "green"),
        ((30, 70, 190), "blue"),
        ((130, 180, 235), "light blue"),
        ((20, 30, 85), "dark blue"),
        ((115, 75, 40), "brown"),
        ((120, 45, 150), "purple"),
        ((240, 140, 180), "pink"),
    ],
)
def test_solid_colours_get_their_plain_name(rgb, name):
    assert dominant_colours(solid(rgb))[0][0] == name


def test_two_colour_object_names_both_main_first():
    img = solid((250, 250, 250), 100, 60)
    img[45:] = solid((30, 70, 190), 55, 60, seed=1)  # a white roof over a blue body, more blue than white
    names = [n for n, _ in dominant_colours(img)]
    assert names == ["blue", "white"]


def test_background_at_the_box_edges_does_not_count():
    img = solid((40, 150, 50), 100, 100)  # grass around ...
    img[20:80, 20:80] = solid((210, 25, 30), 60, 60, seed=2)  # ... a red object filling the box's centre
    assert dominant_colours(img)[0][0] == "red"


def test_grey_scale_is_decided_by_chroma():
    assert name_colour(cv2.cvtColor(np.float32([[[0.5, 0.5, 0.52]]]), cv2.COLOR_RGB2Lab)[0, 0]) == "grey"
    assert dominant_colours(np.zeros((0, 0, 3), np.uint8)) == []


def test_size_region_motion():
    assert size_class((0.1, 0.1, 0.15, 0.16)) == "small"
    assert size_class((0.1, 0.1, 0.3, 0.4)) == "medium"
    assert size_class((0.0, 0.2, 0.6, 0.9)) == "large"
    assert frame_region(0.1, 0.9) == "bottom left" and frame_region(0.5, 0.5) == "centre" and frame_region(0.8, 0.5) == "right"
    assert frame_region(0.5, 0.1) == "top centre"
    assert motion([(0, 0.8, 0.5), (1, 0.6, 0.52), (2, 0.3, 0.55)]) == ("moving", "left")
    assert motion([(0, 0.5, 0.2), (3, 0.52, 0.7)]) == ("moving", "down")
    assert motion([(0, 0.5, 0.5), (5, 0.51, 0.5), (9, 0.5, 0.51)]) == ("stationary", None)
    # a big box jitters more than a small one before it counts as moving
    assert motion([(0, 0.5, 0.5), (1, 0.56, 0.5)], box=(0.2, 0.1, 0.8, 0.9))[0] == "stationary"
    assert motion([(0, 0.5, 0.5)]) == ("stationary", None)


def test_describe_track_and_attrs():
    crops = [solid((20, 30, 85), seed=i) for i in range(3)] + [solid((250, 250, 250), 10, 10)]
    boxes = [(0.7, 0.6, 0.8, 0.9)] * 4
    a = describe_track(crops, boxes, [(0.0, 0.75, 0.75), (4.0, 0.75, 0.76)], (640, 360))
    assert isinstance(a, TrackAppearance)
    assert a.colours[0] == "dark blue" and a.size == "medium" and a.region == "bottom right"
    assert (a.motion, a.direction) == ("stationary", None)
    attrs = a.to_attrs()
    assert attrs["appearance_colours"][0] == "dark blue" and attrs["appearance_motion"] == "stationary"
    json.dumps(attrs)
    # colours computed where the frames were (one object_colours per detection) vote the same way
    votes = [object_colours(solid((210, 25, 30), seed=i), "person") for i in range(2)]
    assert describe_track([], boxes, [], (640, 360), label="person", colour_votes=votes).colours == ["red"]
    empty = describe_track([], [], [], (640, 360))
    assert empty.colours == [] and empty.region == "centre"


def test_crop_stays_inside_the_frame():
    frame = np.zeros((100, 200, 3), np.uint8)
    assert crop(frame, (0.9, 0.9, 1.2, 1.3)).shape[:2] == (10, 20)
    assert crop(frame, (0.5, 0.5, 0.5, 0.5)).size > 0


def test_real_photo_blue_bus_and_red_shirt():
    """ultralytics' bus.jpg (a Madrid electric bus): the bus side is blue, the man in the middle wears a red
    shirt under a black coat, the man on the left a beige coat. Boxes labelled by hand."""
    path = TEST_MEDIA / "bus.jpg"
    if not path.is_file():
        pytest.skip("test media not fetched (python -m orchestrator.weights test-media)")
    rgb = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
    bus = dominant_colours(crop(rgb, BUS_SIDE))
    assert bus[0][0] == "blue"
    shirt = dominant_colours(crop(rgb, RED_SHIRT))
    assert shirt[0][0] in ("red", "dark red")
    coat = [n for n, _ in dominant_colours(crop(rgb, BEIGE_COAT))]
    assert coat[0] in ("beige", "white", "silver")


BUS_SIDE = (0.50, 0.48, 0.66, 0.56)
RED_SHIRT = (0.356, 0.447, 0.374, 0.475)
BEIGE_COAT = (0.09, 0.43, 0.22, 0.58)


def test_person_colours_are_top_then_legs_and_vehicle_colour_skips_windows():
    person = solid((210, 25, 30), 100, 40)  # red top ...
    person[52:] = solid((30, 70, 190), 48, 40, seed=3)  # ... blue jeans
    assert [n for n, _ in object_colours(person, "person")] == ["red", "blue"]
    car = solid((20, 20, 22), 60, 100)  # dark windows on top ...
    car[27:] = solid((250, 250, 250), 33, 100, seed=4)  # ... a white body below
    assert object_colours(car, "car")[0][0] == "white"
