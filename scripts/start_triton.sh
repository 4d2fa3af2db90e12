#!/usr/bin/env bash
# Start the bundled Triton Inference Server on triton_models/ (embedded default, CPU) and keep it
# running until Ctrl-C. Point the orchestrator at it with TRITON_URL=127.0.0.1:${HTTP_PORT:-8000}.
# On a GPU server use NVIDIA's container instead (see README, production layout).
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/python -m orchestrator serve-models --http-port "${HTTP_PORT:-8000}" --grpc-port "${GRPC_PORT:-8001}" "$@"
