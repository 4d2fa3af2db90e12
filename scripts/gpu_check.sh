#!/usr/bin/env bash
# Throughput of the ingest's GPU models (detector, embedder, Whisper-sized encoders) from PyTorch and transformers
# alone, random weights, fp16: see scripts/gpu_check.py. Needs no network, no TensorRT and no model weights; stops
# after 8 minutes whatever happens. Prints a last line "GPU_CHECK {json}" that scripts/plan_capacity.py --measured reads.
#
#   scripts/gpu_check.sh [--out gpu_check.json]      # on the GPU machine
#   scripts/gpu_check.sh --cpu                       # small models on the CPU: checks the script itself
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
python="${PYTHON:-}"
if [ -z "$python" ]; then
    if [ -x "$here/../.venv/bin/python" ]; then python="$here/../.venv/bin/python"; else python="$(command -v python3)"; fi
fi
exec timeout --signal=INT --kill-after=10 "${GPU_CHECK_TIMEOUT_S:-480}" "$python" "$here/gpu_check.py" "$@"
