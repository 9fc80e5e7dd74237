#!/usr/bin/env bash
# Creates (or refreshes) the project's Python environment in .venv from
# training/requirements.txt. Idempotent: a stamp holding the requirements'
# hash skips the install when nothing changed. Everything Python in the repo
# (training, fixtures, the pytest suite, the TS tests that read .npy files
# back with numpy) runs with .venv/bin/python.
#
#   bash training/setup_venv.sh        (npm run setup:py)
#   TWINLENS_BASE_PYTHON=python3.11 bash training/setup_venv.sh
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.venv
req=training/requirements.txt
base=${TWINLENS_BASE_PYTHON:-python3}

if ! command -v "$base" >/dev/null; then
  echo "setup_venv: no '$base' on PATH. Install Python 3.11 (Debian: apt-get install python3 python3-venv)." >&2
  exit 1
fi
ver=$("$base" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
if [ "$ver" != "3.11" ]; then
  # The pinned torch CPU wheel on the development machines is built for 3.11;
  # another version works too but downloads torch from the index.
  echo "setup_venv: note: $base is Python $ver (3.11 expected); continuing." >&2
fi

if [ ! -x "$venv/bin/python" ]; then
  echo "setup_venv: creating $venv with $base ($ver)"
  "$base" -m venv "$venv" || {
    echo "setup_venv: '$base -m venv' failed. Debian: apt-get install python3-venv" >&2
    exit 1
  }
fi

want=$(sha256sum "$req" | cut -d' ' -f1)
have=$(cat "$venv/.requirements.sha256" 2>/dev/null || true)
if [ "$want" = "$have" ]; then
  echo "setup_venv: $venv is up to date with $req"
  exit 0
fi
echo "setup_venv: installing $req into $venv (a few minutes the first time)"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req"
echo "$want" > "$venv/.requirements.sha256"
echo "setup_venv: done ($("$venv/bin/python" -c 'import torch; print("torch", torch.__version__)'))"
