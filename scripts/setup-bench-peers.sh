#!/usr/bin/env bash
# Optional: what `npm run bench -- --peer-tf1 scripts/peers/tutorial_tf1.py --peer-torch scripts/peers/recipe_torch.py` needs to run
# the peer programs beside ours. Not needed to train, test or run the notebooks.
# - the tutorial's TensorFlow 1 program: tensorflow-cpu (pinned, the version measured in
#   docs/speed.md) from PyPI into the project's virtual environment .venv/ (or $MNIST_VENV);
# - the PyTorch port: Debian's python3-torch with a threaded OpenBLAS (apt, as root or with sudo;
#   skipped with --no-apt).
# Safe to run again: what is already installed is left as it is.
set -euo pipefail
cd "$(dirname "$0")/.."
TENSORFLOW_VERSION=2.21.0
venv="${MNIST_VENV:-.venv}"
python="${MNIST_VENV_PYTHON:-/usr/bin/python3}"
apt=1
[ "${1:-}" = --no-apt ] && apt=0

say() { printf 'setup-bench-peers: %s\n' "$*" >&2; }

if [ ! -x "$venv/bin/python" ]; then
  if ! "$python" -c 'import venv, ensurepip' 2>/dev/null; then
    say "$python cannot make a virtual environment: install python3-venv (Debian/Ubuntu: apt-get install python3-venv)"
    exit 1
  fi
  "$python" -m venv "$venv"
fi
has_tf() {
  "$venv/bin/python" - "$TENSORFLOW_VERSION" <<'PY'
import sys
from importlib.metadata import version, PackageNotFoundError
try:
    sys.exit(0 if version("tensorflow-cpu") == sys.argv[1] else 1)
except PackageNotFoundError:
    sys.exit(1)
PY
}
if has_tf; then
  say "tensorflow-cpu $TENSORFLOW_VERSION already in $venv"
else
  "$venv/bin/pip" install --quiet "tensorflow-cpu==$TENSORFLOW_VERSION"
  has_tf || { say "error: tensorflow-cpu $TENSORFLOW_VERSION is not in $venv after pip install"; exit 1; }
  say "installed tensorflow-cpu $TENSORFLOW_VERSION in $venv"
fi

if [ "$apt" = 1 ]; then
  if /usr/bin/python3 -c 'import torch' 2>/dev/null; then
    say "PyTorch already in /usr/bin/python3"
  elif command -v apt-get >/dev/null; then
    sudo=""
    if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends python3-torch libopenblas0-pthread
  else
    say "no apt-get: install PyTorch for /usr/bin/python3 yourself, or pass --peer-python to npm run bench"
  fi
fi
