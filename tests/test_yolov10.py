"""The opt-in YOLOv10-N detector head (``yolov10``): served by the real Triton from the installed weights
(``python -m orchestrator.weights fetch yolov10``; AGPL-3.0, so never fetched here), it finds the people and
the bus on the real bus.jpg; plus the parts that need no weights (switch, overlay, post-processing)."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import cv2
import numpy as np
import pytest

from orchestrator import weights

REPO = Path(__file__).resolve().parent.parent

needs_weights = pytest.mark.skipif(
    not weights.present("yolov10"),
    reason="YOLOv10-N weights are opt-in (AGPL-3.0) and not installed: run `.venv/bin/python -m orchestrator.weights fetch yolov10` to test the yolov10 head",
)


@pytest.fixture(scope="module")
def yolov10_triton():
    from orchestrator.triton_server import TritonServer

    server = TritonServer.start(models=("detector",), detector_head="yolov10")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def detector_module():
    sys.modules.setdefault("triton_python_backend_utils", types.SimpleNamespace(TritonModelException=RuntimeError))
    sys.path.insert(0, str(REPO / "triton_models/detector/1"))
    try:
        import model
    finally:
        sys.path.pop(0)
    return model


@pytest.mark.slow
@needs_weights
def test_triton_yolov10_finds_people_and_the_bus(yolov10_triton, media_dir):
    from orchestrator.model_clients import TritonModels

    bus = cv2.cvtColor(cv2.imread(str(media_dir / "bus.jpg")), cv2.COLOR_BGR2RGB)
    zidane = cv2.cvtColor(cv2.imread(str(media_dir / "zidane.jpg")), cv2.COLOR_BGR2RGB)
    client = TritonModels(yolov10_triton.http_url)
    try:
        assert client.ready(("detector",)) == {"detector": True}
        dets = client.detect([bus, bus[::-1].copy(), bus], batch=2)  # batches of 2 and 1
        alone = client.detect([bus])
        other = client.detect([zidane])
    finally:
        client.close()
    det = dets[0]
    labels = list(det.labels)
    assert labels.count("person") >= 3, labels  # four people stand in front of the bus
    assert "bus" in labels, labels
    bus_box = det.boxes[labels.index("bus")]
    assert bus_box[2] - bus_box[0] > 0.7 and bus_box[3] - bus_box[1] > 0.4, bus_box  # the bus fills the frame's width
    assert "person" in list(other[0].labels)
    for d in dets + alone + other:
        n = len(d)
        assert d.boxes.shape == (n, 4) and n <= 100
        assert np.all((d.boxes >= 0) & (d.boxes <= 1))
        assert np.all(d.boxes[:, 0] <= d.boxes[:, 2]) and np.all(d.boxes[:, 1] <= d.boxes[:, 3])
        assert np.all(d.scores >= 0.3) and np.all(np.diff(d.scores) <= 0)
    # the same frame gives the same answer whichever batch it ran in
    np.testing.assert_allclose(dets[0].boxes, dets[2].boxes, atol=1e-4)
    np.testing.assert_allclose(dets[0].boxes, alone[0].boxes, atol=1e-3)  # batch of 2 vs alone
    np.testing.assert_array_equal(dets[0].class_ids, alone[0].class_ids)


def test_yolov10_switch_without_weights_says_how_to_fetch(tmp_path, monkeypatch):
    from orchestrator.triton_server import TritonServer, TritonStartError

    monkeypatch.setenv("VDET_DETECTOR", "yolov10")
    monkeypatch.setenv("VDET_YOLOV10_PATH", str(tmp_path / "nothing-here"))
    with pytest.raises(TritonStartError, match="orchestrator.weights fetch yolov10"):
        TritonServer.start(models=("detector",))


def test_yolov10_is_fetched_only_on_request():
    spec = weights.SPECS["yolov10"]
    assert spec.on_request and "AGPL" in spec.licence and spec.builder == "build_yolov10_onnx.py"
    assert not weights.SPECS["detector"].on_request


def test_overlay_repository_serves_the_yolov10_config(tmp_path):
    from orchestrator.triton_server import DETECTOR_CONFIGS, REPOSITORY, overlay_repository

    repo = overlay_repository(REPOSITORY, tmp_path / "models", {"detector": DETECTOR_CONFIGS["yolov10"]})
    config = (repo / "detector/config.pbtxt").read_text()
    assert 'key: "head" value { string_value: "yolov10" }' in config
    assert (repo / "detector/1/model.py").is_file()


def test_yolov10_postprocess_maps_boxes_back_to_the_frame(detector_module):
    m = detector_module
    frame = np.zeros((480, 640, 3), np.uint8)  # letterboxed at scale 1.0 into the top of 640x640
    x, scale = m.yolov10_preprocess(frame)
    assert x.shape == (3, 640, 640) and scale == 1.0
    assert x[:, 479, 0].max() == 0 and np.allclose(x[:, 480, 0], 114 / 255)  # pad below the frame
    raw = np.zeros((300, 6), np.float32)
    raw[0] = [64, 48, 320, 240, 0.9, 5]  # a bus
    raw[1] = [0, 0, 700, 500, 0.5, 0]  # a person, box past the frame: clipped
    raw[2] = [10, 10, 20, 20, 0.2, 0]  # below the threshold
    raw[3] = [10, 10, 20, 20, 0.6, 2]  # a car, above the person's score
    thresholds = np.full(80, 0.3, np.float32)
    boxes, scores, classes = m.yolov10_postprocess(raw, scale, 480, 640, thresholds)
    assert boxes.shape == (100, 4) and list(classes[:4]) == [5, 2, 0, -1]
    np.testing.assert_allclose(scores[:3], [0.9, 0.6, 0.5])
    np.testing.assert_allclose(boxes[0], [0.1, 0.1, 0.5, 0.5])
    np.testing.assert_allclose(boxes[2], [0, 0, 1, 1])
    thresholds[2] = 0.7  # a per-class threshold drops the car
    _, _, classes = m.yolov10_postprocess(raw, scale, 480, 640, thresholds)
    assert list(classes[:3]) == [5, 0, -1]
