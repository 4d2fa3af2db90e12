#!/usr/bin/env bash
# Join this machine to the Ray cluster started by scripts/start_ray_head.sh. Window-analysis tasks that land
# here call this node's Triton (VDET_NODE_TRITON_URL) and read the media at the same path as on the head
# (shared storage mounted at the same path, or the file copied there). Needs this repository and its .venv
# at the same path as on the head, the same Ray version, and the head's ~/.ray/auth_token.
#
#   RAY_HEAD=10.0.0.5:6379 RAY_NODE_IP=10.0.0.6 scripts/start_ray_worker.sh
#
# Environment: RAY_HEAD (head address, required), RAY_NODE_IP (this node's address, default 127.0.0.1 for a
# second node on the same machine), RAY_NUM_CPUS (this machine's cores), RAY_NUM_GPUS (0),
# RAY_OBJECT_STORE_BYTES (200 MB), VDET_NODE_TRITON_URL (default 127.0.0.1:8000).
# Stop with: .venv/bin/ray stop
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ -z "${RAY_HEAD:-}" ]]; then
    echo "error: set RAY_HEAD to the head node's address (host:port, printed by scripts/start_ray_head.sh)" >&2
    exit 2
fi
if [[ ! -s "$HOME/.ray/auth_token" && -z "${RAY_AUTH_TOKEN:-}" ]]; then
    echo "error: no Ray auth token: copy ~/.ray/auth_token from the head node (or set RAY_AUTH_TOKEN)" >&2
    exit 2
fi
export VDET_NODE_TRITON_URL="${VDET_NODE_TRITON_URL:-127.0.0.1:8000}"  # inherited by this node's Ray workers
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export RAY_AUTH_MODE=token
args=(--address "$RAY_HEAD" --node-ip-address "${RAY_NODE_IP:-127.0.0.1}" --disable-usage-stats
      --num-gpus "${RAY_NUM_GPUS:-0}" --object-store-memory "${RAY_OBJECT_STORE_BYTES:-200000000}")
[[ -n "${RAY_NUM_CPUS:-}" ]] && args+=(--num-cpus "$RAY_NUM_CPUS")
.venv/bin/ray start "${args[@]}" "$@"
echo "joined $RAY_HEAD; tasks here call Triton at $VDET_NODE_TRITON_URL"
