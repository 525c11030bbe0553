#!/usr/bin/env bash
# Deno's Jupyter kernel beside tslab: a pinned Deno from PyPI (the `deno` wheel puts the binary into
# the environment's bin/) in the project's .venv/ (or $MNIST_VENV), and a kernelspec named "deno"
# registered with that environment's Jupyter and, with --register-with PYTHON, with that Python's
# Jupyter too (the tests: Debian's /usr/bin/python3, which runs nbclient). Safe to run again.
# Needs the environment made by scripts/setup-jupyterlab.sh (or any venv with pip).
set -euo pipefail
cd "$(dirname "$0")/.."
# Pinned exactly: the notebooks and the tests were checked with this Deno (TypeScript 6.0, V8 15.0).
DENO_VERSION=2.9.8
venv="${MNIST_VENV:-.venv}"
others=()
while [ $# -gt 0 ]; do
  case "$1" in
    --register-with) [ $# -ge 2 ] || { echo "--register-with needs a Python" >&2; exit 2; }; others+=("$2"); shift 2 ;;
    *) echo "usage: $0 [--register-with PYTHON]..." >&2; exit 2 ;;
  esac
done
if [ ! -x "$venv/bin/python" ]; then
  echo "$venv has no Python: run scripts/setup-jupyterlab.sh (npm run notebooks:setup) first" >&2
  exit 1
fi
if [ -x "$venv/bin/deno" ] && [ "$("$venv/bin/deno" --version | head -1 | cut -d' ' -f2)" = "$DENO_VERSION" ]; then
  echo "$venv: deno $DENO_VERSION already installed"
else
  "$venv/bin/python" -m pip install --quiet "deno==$DENO_VERSION"
fi
deno="$(cd "$venv/bin" && pwd -P)/deno"
"$deno" --version | head -1
# The kernelspec `deno jupyter --install` writes, but with the absolute path of this Deno, so that the
# kernel starts whatever PATH Jupyter was started with, and into the environment, not ~/.local.
spec="$(mktemp -d)"
trap 'rm -rf "$spec"' EXIT
mkdir "$spec/deno"
cat >"$spec/deno/kernel.json" <<JSON
{
  "argv": ["$deno", "jupyter", "--kernel", "--conn", "{connection_file}"],
  "display_name": "Deno",
  "language": "typescript"
}
JSON
"$venv/bin/python" -W ignore::DeprecationWarning -m jupyter_client.kernelspecapp install --sys-prefix --name deno "$spec/deno" >/dev/null
"$venv/bin/python" -c 'from jupyter_client.kernelspec import KernelSpecManager as M; s = M().find_kernel_specs(); assert "deno" in s, s; print("jupyter kernels:", ", ".join(sorted(s)))'
# Another Jupyter: system-wide as root (as tslab's kernel is), else for this user.
where="--user"
if [ "$(id -u)" = 0 ]; then where="--prefix=/usr/local"; fi
for python in "${others[@]}"; do
  "$python" -W ignore::DeprecationWarning -m jupyter_client.kernelspecapp install "$where" --name deno "$spec/deno" >/dev/null
  "$python" -c 'import sys; from jupyter_client.kernelspec import KernelSpecManager as M; s = M().find_kernel_specs(); assert "deno" in s, s; print(sys.argv[1], "jupyter kernels:", ", ".join(sorted(s)))' "$python"
done
