"""RT-DETR-v2 detector path on the CPU: export a tiny random RT-DETR-v2 to ONNX (checked against
PyTorch), serve it with the real Triton as the ``detector`` model (head ``rtdetr``), detect on real
frames, ingest a short clip through it; plus the CPU-testable parts of ``scripts/build_trt_engine.py``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import run_script

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "scripts"))

import build_trt_engine  # noqa: E402

SIZE = 320  # the random model's input size: small enough for 2 CPU cores
TEST_THRESHOLD = 0.05  # a random model's scores sit near sigmoid(-1.5); production uses 0.5


@pytest.fixture(scope="module")
def rtdetr_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("rtdetr")
    proc = run_script("export_rtdetr.py", "--random-small", "--size", str(SIZE), "--out", str(out))
    assert "ONNX Runtime vs PyTorch, max abs diff" in proc.stdout
    return out


@pytest.fixture(scope="module")
def rtdetr_triton(rtdetr_dir, tmp_path_factory):
    """Triton serving detector (head rtdetr, from configs/cpu-rtdetr.pbtxt) and the embedder the ingest needs."""
    from orchestrator.triton_server import REPOSITORY, TritonServer

    repo = tmp_path_factory.mktemp("repo")
    config = (REPOSITORY / "detector/configs/cpu-rtdetr.pbtxt").read_text()
    assert 'key: "score_threshold" value { string_value: "0.5" }' in config
    config = config.replace('key: "score_threshold" value { string_value: "0.5" }', f'key: "score_threshold" value {{ string_value: "{TEST_THRESHOLD}" }}')
    config += f'parameters {{ key: "model_path" value {{ string_value: "{rtdetr_dir}" }} }}\n'
    (repo / "detector").mkdir()
    (repo / "detector/config.pbtxt").write_text(config)
    (repo / "detector/1").symlink_to(REPOSITORY / "detector/1", target_is_directory=True)
    (repo / "embedder").symlink_to(REPOSITORY / "embedder", target_is_directory=True)
    mp = pytest.MonkeyPatch()
    mp.delenv("VDET_RTDETR_PATH", raising=False)  # it would win over model_path
    try:
        server = TritonServer.start(models=("detector", "embedder"), repository=repo)
    finally:
        mp.undo()
    yield server
    server.stop()


def assert_well_formed(det, labels: list[str]) -> None:
    n = len(det)
    assert det.boxes.shape == (n, 4) and det.boxes.dtype == np.float32
    assert det.scores.shape == (n,) and det.class_ids.shape == (n,)
    assert n <= 100
    if n:
        assert np.all((det.boxes >= 0) & (det.boxes <= 1))
        assert np.all(det.boxes[:, 0] <= det.boxes[:, 2]) and np.all(det.boxes[:, 1] <= det.boxes[:, 3])
        assert np.all(det.scores >= TEST_THRESHOLD) and np.all(det.scores <= 1)
        assert np.all(np.diff(det.scores) <= 0), "scores must come sorted, best first"
        assert np.all((det.class_ids >= 0) & (det.class_ids < len(labels)))
        assert list(det.labels) == [labels[c] for c in det.class_ids]


def test_export_writes_onnx_and_metadata(rtdetr_dir):
    import onnxruntime as ort

    meta = json.loads((rtdetr_dir / "rtdetr.json").read_text())
    assert meta["head"] == "rtdetr" and meta["input_size"] == SIZE
    assert len(meta["id2label"]) == meta["num_classes"] == 80 and meta["id2label"][0] == "person"
    session = ort.InferenceSession(str(rtdetr_dir / "rtdetr.onnx"), providers=["CPUExecutionProvider"])
    (inp,) = session.get_inputs()
    assert inp.name == "pixel_values" and inp.shape[1:] == [3, SIZE, SIZE] and not isinstance(inp.shape[0], int)
    logits, boxes = session.run(["logits", "pred_boxes"], {"pixel_values": np.zeros((2, 3, SIZE, SIZE), np.float32)})
    assert logits.shape == (2, meta["num_queries"], 80) and boxes.shape == (2, meta["num_queries"], 4)


def test_export_rejects_bad_size():
    proc = subprocess.run(
        [sys.executable, str(REPO / "scripts/export_rtdetr.py"), "--random-small", "--size", "300"], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode != 0 and "multiple of 32" in proc.stderr


def test_triton_rtdetr_detects_on_real_frames(rtdetr_triton, rtdetr_dir, media_dir):
    from orchestrator.model_clients import TritonModels

    labels = json.loads((rtdetr_dir / "rtdetr.json").read_text())["id2label"]
    bus = cv2.cvtColor(cv2.imread(str(media_dir / "bus.jpg")), cv2.COLOR_BGR2RGB)
    zidane = cv2.cvtColor(cv2.imread(str(media_dir / "zidane.jpg")), cv2.COLOR_BGR2RGB)
    client = TritonModels(rtdetr_triton.http_url)
    try:
        assert client.ready(("detector",)) == {"detector": True}
        dets = client.detect([bus, bus[::-1].copy(), bus], batch=2)  # batches of 2 and 1
        other = client.detect([zidane])
    finally:
        client.close()
    assert len(dets) == 3 and len(other) == 1
    for det in dets + other:
        assert_well_formed(det, labels)
    assert len(dets[0]) > 0, "a random RT-DETR with threshold 0.05 still scores some queries above it"
    # the same frame gives the same answer whichever batch it ran in
    np.testing.assert_allclose(dets[0].boxes, dets[2].boxes, atol=1e-4)
    np.testing.assert_array_equal(dets[0].class_ids, dets[2].class_ids)


def test_ingest_through_rtdetr_writes_detections(rtdetr_triton, redis_server, media_dir, tmp_path, monkeypatch):
    from orchestrator.graph import EventGraph
    from orchestrator.pipeline import Ingestor, Services, database_path

    clip = tmp_path / "bikes4s.mp4"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-i", str(media_dir / "bikes.mp4"), "-t", "4", "-an", "-c:v", "libx264", "-preset", "ultrafast", str(clip)],
        check=True,
        timeout=120,
    )
    monkeypatch.setenv("TRITON_URL", rtdetr_triton.http_url)
    monkeypatch.setenv("REDIS_URL", redis_server.url)
    home = tmp_path / "home"
    with Services() as services:
        summary = Ingestor(home, services).ingest(clip)
    with EventGraph(database_path(home), read_only=True) as graph:
        rows = graph.con.execute("SELECT label, confidence, x1, y1, x2, y2 FROM detections WHERE video_id = ?", [summary.video_id]).fetchall()
    assert rows, "the ingest wrote no detection rows"
    for label, conf, x1, y1, x2, y2 in rows:
        assert label and conf >= TEST_THRESHOLD
        assert 0 <= x1 <= x2 <= 1 and 0 <= y1 <= y2 <= 1


# -- scripts/build_trt_engine.py: the parts that run without TensorRT ------------------------------


def test_engine_args_defaults_and_validation(tmp_path):
    onnx = tmp_path / "m.onnx"
    onnx.write_bytes(b"x")
    args = build_trt_engine.parse_args(["--onnx", str(onnx)])
    assert args.precision == "fp16" and (args.min_batch, args.opt_batch, args.max_batch) == (1, 8, 32)
    assert args.out == REPO / "triton_models/detector_engine/1/model.plan"
    with pytest.raises(SystemExit):
        build_trt_engine.parse_args(["--onnx", str(onnx), "--min-batch", "4", "--opt-batch", "2"])
    with pytest.raises(SystemExit):
        build_trt_engine.parse_args(["--onnx", str(onnx), "--int8"])  # INT8 needs a calibration set
    with pytest.raises(SystemExit):
        build_trt_engine.parse_args(["--onnx", str(tmp_path / "missing.onnx")])


def test_engine_builder_says_tensorrt_is_missing(tmp_path):
    onnx = tmp_path / "m.onnx"
    onnx.write_bytes(b"x")
    proc = subprocess.run([sys.executable, str(REPO / "scripts/build_trt_engine.py"), "--onnx", str(onnx)], capture_output=True, text=True, timeout=120)
    try:
        import tensorrt  # noqa: F401
    except ImportError:
        assert proc.returncode == 2 and "tensorrt" in proc.stderr.lower() and "GPU" in proc.stderr
    else:
        pytest.skip("tensorrt is installed here")


def test_engine_preprocess_matches_triton_model(media_dir):
    frame = cv2.cvtColor(cv2.imread(str(media_dir / "bus.jpg")), cv2.COLOR_BGR2RGB)
    batch = build_trt_engine.preprocess_batch([frame], 320)
    assert batch.shape == (1, 3, 320, 320) and batch.dtype == np.float32
    assert 0 <= batch.min() and batch.max() <= 1
    expected = cv2.resize(frame, (320, 320), interpolation=cv2.INTER_LINEAR).transpose(2, 0, 1) / 255.0
    np.testing.assert_allclose(batch[0], expected, atol=1e-6)


def test_engine_comparison_accepts_agreement_and_flags_miscompile(rtdetr_dir):
    import onnxruntime as ort

    images = build_trt_engine.sample_batch(None, SIZE, count=2)
    session = ort.InferenceSession(str(rtdetr_dir / "rtdetr.onnx"), providers=["CPUExecutionProvider"])
    logits, boxes = session.run(["logits", "pred_boxes"], {"pixel_values": images})
    same = build_trt_engine.compare_detections((logits, boxes), (logits + 1e-4, boxes + 1e-4))
    assert same.ok, same.message
    # a GridSample miscompile: right scores, boxes sampled from the wrong place
    shifted = np.clip(boxes + np.array([0.2, 0.15, 0, 0], np.float32), 0, 1)
    bad = build_trt_engine.compare_detections((logits, boxes), (logits, shifted))
    assert not bad.ok and bad.box_iou_min < 0.9
    # garbage scores
    worse = build_trt_engine.compare_detections((logits, boxes), (-logits, boxes))
    assert not worse.ok


def test_rtdetr_switch_without_an_export_says_how_to_make_one(tmp_path, monkeypatch):
    from orchestrator.triton_server import TritonServer, TritonStartError

    monkeypatch.setenv("VDET_DETECTOR", "rtdetr")
    monkeypatch.setenv("VDET_RTDETR_PATH", str(tmp_path / "nothing-here"))
    with pytest.raises(TritonStartError, match="scripts/export_rtdetr.py --checkpoint"):
        TritonServer.start(models=("detector",))
    monkeypatch.setenv("VDET_DETECTOR", "yolo")
    with pytest.raises(TritonStartError, match="not one of centernet, rtdetr"):
        TritonServer.start(models=("detector",))


def test_overlay_repository_swaps_only_the_detector_config(tmp_path):
    import make_gpu_configs as gen
    from google.protobuf import text_format

    from orchestrator.triton_server import REPOSITORY, overlay_repository

    repo = overlay_repository(REPOSITORY, tmp_path / "models", {"detector": "cpu-rtdetr"})
    config = text_format.Parse((repo / "detector/config.pbtxt").read_text(), gen.mc.ModelConfig())
    assert config.parameters["head"].string_value == "rtdetr"
    assert (repo / "detector/1/model.py").is_file()
    assert (repo / "asr").resolve() == (REPOSITORY / "asr").resolve()
    assert (repo / "asr/config.pbtxt").read_text() == (REPOSITORY / "asr/config.pbtxt").read_text()
