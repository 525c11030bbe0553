#!/usr/bin/env bash
# Installs what the tests need beyond the npm packages, from Debian's packages, then registers
# the tslab kernel with Debian's Jupyter:
# - chromium: charts are rendered and checked in a real browser;
# - Jupyter with nbclient and nbconvert: every notebook is executed by the tslab kernel and
#   rendered to HTML (whose pages load libjs-requirejs and libjs-mathjax);
# - fonts: Chinese glyphs for the tutorial's log lines in the screenshots;
# - JupyterLab and Notebook 7 from PyPI in the project's .venv/ (scripts/setup-jupyterlab.sh), for
#   the tests that drive their UI, and Deno from PyPI there too, its kernel registered with both
#   Jupyters (the notebooks also run under Deno's kernel);
# - the native TensorFlow backend (scripts/setup-native-tf.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
sudo=""
if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update
$sudo apt-get install -y --no-install-recommends \
  chromium \
  jupyter-notebook python3-notebook python3-nbclient python3-nbconvert python3-nbformat \
  python3-ipykernel python3-jupyter-client python3-venv \
  libjs-requirejs libjs-mathjax \
  fonts-wqy-zenhei fonts-dejavu-core
# Debian's Python (/usr/bin/python3) has Jupyter; a python3 earlier on PATH may not.
if [ -x node_modules/.bin/tslab ]; then
  node_modules/.bin/tslab install --python=/usr/bin/python3
  /usr/bin/python3 -c 'from jupyter_client.kernelspec import KernelSpecManager as M; s = M().find_kernel_specs(); assert "tslab" in s, s; print("jupyter kernels:", ", ".join(sorted(s)))'
else
  echo "node_modules/ is missing: run npm ci, then this script again to register the tslab kernel" >&2
  exit 1
fi
# The native backend: tfjs-node's addon built against PyPI's TensorFlow C library (its own
# install script cannot download libtensorflow here); the native tests require it in CI.
bash scripts/setup-native-tf.sh
# JupyterLab 4.6 and Notebook 7 (pinned) in .venv/, with the tslab kernel registered there.
bash scripts/setup-jupyterlab.sh
# Deno (pinned) in .venv/, its kernel registered there and with Debian's Jupyter (nbclient's).
bash scripts/setup-deno.sh --register-with /usr/bin/python3
