#!/usr/bin/env bash
# Installs what the tests need beyond the npm packages, from Debian's packages: Chromium (charts
# are rendered and checked in a real browser) and Jupyter with nbclient and nbconvert (the
# notebooks are executed by the tslab kernel); then registers the tslab kernel with that Jupyter.
set -euo pipefail
cd "$(dirname "$0")/.."
sudo=""
if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
$sudo apt-get update
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends \
  chromium fonts-liberation jupyter-notebook python3-nbclient python3-nbconvert python3-ipykernel
# Debian's Python has Jupyter; another python3 earlier on PATH may not.
npx tslab install --python=/usr/bin/python3
