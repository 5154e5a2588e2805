#!/usr/bin/env bash
# Our datasets through real LeRobot and back; see README.md in this directory.
#   tests/interop_lerobot/run.sh [OUT] [LEROBOT_PYTHON] [BACKEND]
# OUT defaults to /tmp/interop, LEROBOT_PYTHON to /tmp/lerobot-env/bin/python, BACKEND (LeRobot's video decoder)
# to pyav; OURS_PYTHON (default .venv/bin/python) is this project's interpreter. Run from the repository root.
set -uo pipefail
OUT=${1:-/tmp/interop}
LEROBOT_PYTHON=${2:-/tmp/lerobot-env/bin/python}
BACKEND=${3:-pyav}
OURS_PYTHON=${OURS_PYTHON:-.venv/bin/python}
HERE=tests/interop_lerobot
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} HF_HUB_OFFLINE=1
"$OURS_PYTHON" "$HERE/write_ours.py" "$OUT" || exit 1
"$LEROBOT_PYTHON" "$HERE/check_lerobot.py" "$OUT" --backend "$BACKEND"
lerobot_failures=$?
"$OURS_PYTHON" "$HERE/check_ours.py" "$OUT"
our_failures=$?
pytest_status=0
if "$LEROBOT_PYTHON" -c "import pytest" 2>/dev/null; then
  PYTHONPATH=. "$LEROBOT_PYTHON" -m pytest -q -p no:cacheprovider tests/unit/data/test_lerobot_interop.py
  pytest_status=$?
fi
echo "check_lerobot.py: $lerobot_failures failed; check_ours.py: $our_failures failed; optional pytest: status $pytest_status"
exit $((lerobot_failures + our_failures + pytest_status))
