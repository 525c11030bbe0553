#!/usr/bin/env bash
# A project-local JupyterLab for `npm run notebooks` and the browser tests: a virtual environment
# in .venv/ (or $MNIST_VENV) with pinned JupyterLab and Notebook from PyPI, and the tslab kernel
# registered in it; with --deno, also a pinned Deno and its kernel (scripts/setup-deno.sh). Safe to
# run again: an environment that already has the pinned versions and the kernel is left as it is.
set -euo pipefail
cd "$(dirname "$0")/.."
# Pinned exactly, so that every machine gets the Lab the tests were written against.
JUPYTERLAB_VERSION=4.6.4
NOTEBOOK_VERSION=7.6.3
venv="${MNIST_VENV:-.venv}"
python="${MNIST_VENV_PYTHON:-/usr/bin/python3}"
deno=0
for arg in "$@"; do
  case "$arg" in
    --deno) deno=1 ;;
    *) echo "usage: $0 [--deno]" >&2; exit 2 ;;
  esac
done

if [ ! -x node_modules/.bin/tslab ]; then
  echo "node_modules/ is missing: run npm ci first (the tslab kernel comes from it)" >&2
  exit 1
fi
if [ ! -x "$venv/bin/python" ]; then
  if ! "$python" -c 'import venv, ensurepip' 2>/dev/null; then
    echo "$python cannot make a virtual environment: install python3-venv (Debian/Ubuntu: apt-get install python3-venv)" >&2
    exit 1
  fi
  "$python" -m venv "$venv"
fi
installed() {
  "$venv/bin/python" - "$JUPYTERLAB_VERSION" "$NOTEBOOK_VERSION" <<'PY'
import sys
from importlib.metadata import version, PackageNotFoundError
try:
    ok = version("jupyterlab") == sys.argv[1] and version("notebook") == sys.argv[2]
except PackageNotFoundError:
    ok = False
sys.exit(0 if ok else 1)
PY
}
if installed; then
  echo "$venv: jupyterlab $JUPYTERLAB_VERSION and notebook $NOTEBOOK_VERSION already installed"
else
  "$venv/bin/python" -m pip install --quiet "jupyterlab==$JUPYTERLAB_VERSION" "notebook==$NOTEBOOK_VERSION"
fi
# The kernelspec goes into the environment's share/jupyter/kernels, found by its Jupyter only.
# An absolute command, so that the kernel starts whatever PATH Jupyter was started with.
node_modules/.bin/tslab install --python="$venv/bin/python" --sys-prefix --binary="$PWD/node_modules/.bin/tslab"
"$venv/bin/python" -c 'from jupyter_client.kernelspec import KernelSpecManager as M; s = M().find_kernel_specs(); assert "tslab" in s, s; print("jupyter kernels:", ", ".join(sorted(s)))'
"$venv/bin/jupyter" lab --version
if [ "$deno" = 1 ]; then bash scripts/setup-deno.sh; fi
