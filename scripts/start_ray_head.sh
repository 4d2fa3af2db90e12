#!/usr/bin/env bash
# Start the Ray head node for `python -m orchestrator ingest FILE --executor ray`. The ingest driver (the only
# DuckDB writer) runs on this machine; window analysis runs on every node of the cluster, each calling the
# Triton on its own node.
#
#   scripts/start_ray_head.sh                          # loopback only: a one-machine cluster
#   RAY_NODE_IP=10.0.0.5 scripts/start_ray_head.sh     # reachable by workers (then run start_ray_worker.sh there)
#
# Environment: RAY_NODE_IP (default 127.0.0.1), RAY_PORT (6379), RAY_NUM_CPUS (this machine's cores),
# RAY_NUM_GPUS (0; the GPUs are Triton's, tasks need none), RAY_OBJECT_STORE_BYTES (200 MB: results are small),
# VDET_NODE_TRITON_URL (this node's Triton, default 127.0.0.1:8000; start it with scripts/start_triton.sh).
# Ray's token authentication is on: the head writes ~/.ray/auth_token; copy that file to every worker node.
# Stop with: .venv/bin/ray stop
set -euo pipefail
cd "$(dirname "$0")/.."
NODE_IP="${RAY_NODE_IP:-127.0.0.1}"
PORT="${RAY_PORT:-6379}"
export VDET_NODE_TRITON_URL="${VDET_NODE_TRITON_URL:-127.0.0.1:8000}"  # inherited by this node's Ray workers
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"                        # workers import orchestrator from here
args=(--head --node-ip-address "$NODE_IP" --port "$PORT" --include-dashboard false --disable-usage-stats
      --num-gpus "${RAY_NUM_GPUS:-0}" --object-store-memory "${RAY_OBJECT_STORE_BYTES:-200000000}")
[[ -n "${RAY_NUM_CPUS:-}" ]] && args+=(--num-cpus "$RAY_NUM_CPUS")
if [[ ! -s "$HOME/.ray/auth_token" ]]; then
    .venv/bin/ray get-auth-token --generate >/dev/null
fi
export RAY_AUTH_MODE=token
.venv/bin/ray start "${args[@]}" "$@"
echo "Ray head at $NODE_IP:$PORT (Triton for this node's tasks: $VDET_NODE_TRITON_URL)"
echo "on this machine:   export RAY_ADDRESS=$NODE_IP:$PORT; .venv/bin/python -m orchestrator ingest FILE --executor ray"
echo "on worker nodes:   copy ~/.ray/auth_token, then RAY_HEAD=$NODE_IP:$PORT scripts/start_ray_worker.sh"
