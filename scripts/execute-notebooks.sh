#!/usr/bin/env bash
# Runs every notebook from top to bottom in Jupyter (tslab kernel) and saves it with its outputs,
# in place: this is how the committed outputs are made. MNIST_STEPS, if set, shortens the runs;
# unset, each notebook runs the tutorial's 30,000 steps (runs already saved in runs/ are reused).
set -euo pipefail
cd "$(dirname "$0")/.."
npm run --silent build
export PATH="$PWD/node_modules/.bin:$PATH"
for notebook in notebooks/*.ipynb; do
  echo "=== $notebook"
  /usr/bin/python3 test/notebooks/execute_notebook.py "$notebook" "$notebook" --timeout 7200
done
