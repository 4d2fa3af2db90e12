#!/usr/bin/env python3
"""Use the running Triton's HTTP endpoints directly, two ways: with ``tritonclient`` and with plain
HTTP/JSON (KServe v2 protocol, no client library). Detect objects in an image; transcribe a WAV.

    python scripts/triton_http_examples.py --url 127.0.0.1:8000 --image bus.jpg --wav speech.wav
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.request
import wave

import cv2
import numpy as np


def read_wav_16k_mono(path: str) -> np.ndarray:
    with wave.open(path) as w:
        if w.getsampwidth() != 2:
            raise SystemExit(f"{path}: expected 16-bit PCM WAV")
        pcm = np.frombuffer(w.readframes(w.getnframes()), np.int16).astype(np.float32) / 32768
        pcm = pcm.reshape(-1, w.getnchannels()).mean(axis=1)
        rate = w.getframerate()
    if rate != 16000:
        from scipy.signal import resample_poly

        pcm = resample_poly(pcm, 16000, rate).astype(np.float32)
    return pcm


def raw_infer(url: str, model: str, inputs: list[dict], outputs: list[str]) -> dict:
    """POST /v2/models/{model}/infer with JSON tensors; returns {output name: (shape, data)}."""
    body = {"inputs": inputs, "outputs": [{"name": n, "parameters": {"binary_data": False}} for n in outputs]}
    req = urllib.request.Request(f"http://{url}/v2/models/{model}/infer", data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=120) as resp:
        result = json.loads(resp.read())
    return {o["name"]: (o["shape"], o["data"]) for o in result["outputs"]}


def detect_raw(url: str, rgb: np.ndarray) -> list[tuple[str, float]]:
    out = raw_infer(url, "detector", [{"name": "IMAGE", "shape": [1, *rgb.shape], "datatype": "UINT8", "data": rgb.reshape(-1).tolist()}], ["LABELS", "SCORES"])
    return [(label, round(score, 3)) for label, score in zip(out["LABELS"][1], out["SCORES"][1]) if score > 0]


def transcribe_raw(url: str, pcm: np.ndarray) -> list[dict]:
    out = raw_infer(url, "asr", [{"name": "AUDIO", "shape": [1, len(pcm)], "datatype": "FP32", "data": pcm.tolist()}], ["SEGMENTS_JSON"])
    return json.loads(out["SEGMENTS_JSON"][1][0])["segments"]


def detect_client(url: str, rgb: np.ndarray) -> list[tuple[str, float]]:
    import tritonclient.http as httpclient

    client = httpclient.InferenceServerClient(url)
    inp = httpclient.InferInput("IMAGE", [1, *rgb.shape], "UINT8")
    inp.set_data_from_numpy(rgb[None])
    result = client.infer("detector", [inp])
    labels, scores = result.as_numpy("LABELS")[0], result.as_numpy("SCORES")[0]
    client.close()
    return [(label.decode(), round(float(score), 3)) for label, score in zip(labels, scores) if score > 0]


def transcribe_client(url: str, pcm: np.ndarray) -> list[dict]:
    import tritonclient.http as httpclient

    client = httpclient.InferenceServerClient(url)
    inp = httpclient.InferInput("AUDIO", [1, len(pcm)], "FP32")
    inp.set_data_from_numpy(pcm[None])
    result = client.infer("asr", [inp])
    client.close()
    return json.loads(result.as_numpy("SEGMENTS_JSON")[0][0])["segments"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", default="127.0.0.1:8000", help="Triton HTTP host:port")
    parser.add_argument("--image")
    parser.add_argument("--wav")
    args = parser.parse_args()
    if args.image:
        bgr = cv2.imread(args.image)
        if bgr is None:
            raise SystemExit(f"{args.image}: not an image")
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        print("detector (tritonclient):", detect_client(args.url, rgb))
        print("detector (raw HTTP/JSON):", detect_raw(args.url, rgb))
    if args.wav:
        pcm = read_wav_16k_mono(args.wav)
        for name, fn in (("tritonclient", transcribe_client), ("raw HTTP/JSON", transcribe_raw)):
            segments = fn(args.url, pcm)
            print(f"asr ({name}):", [(s["start"], s["end"], s["text"]) for s in segments])
    return 0


if __name__ == "__main__":
    sys.exit(main())
