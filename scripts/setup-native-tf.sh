#!/usr/bin/env bash
# Makes the native `tensorflow` backend work without internet: builds @tensorflow/tfjs-node's
# addon against the TensorFlow C library of PyPI's tensorflow-cpu wheel.
#
# tfjs-node's own install script downloads libtensorflow from a host that only the internet
# reaches; when that fails npm drops the optional package. This script installs the package
# without its script, lays the wheel's libtensorflow_cc / libtensorflow_framework and C API
# headers out as tfjs-node's deps/ (where its install script looks before downloading), and
# runs that install script, which then only compiles the addon with node-gyp against Node's
# headers. Linux x86_64, after `npm ci`; run as root or with sudo when g++/make/pip are missing.
# Idempotent: does nothing when the backend already loads. Run again after each `npm ci`.
set -euo pipefail
cd "$(dirname "$0")/.."

# The wheel is pinned by version and by the SHA-256 that PyPI lists for it. tfjs-node 4.22 was
# built against TensorFlow 2.9, whose wheel holds the C API only inside the Python extension
# (it needs libpython); from 2.12 on it is in libtensorflow_cc.so.2, with no Python in it.
TF_VERSION=2.15.1
TF_WHEEL_SHA256=ba9503db2c5357ea21938555323581fbdabf3d051b6bc1b5f73c5b0ae034d077
TF_WHEEL_PYTHON=3.10
TF_WHEEL_PLATFORM=manylinux2014_x86_64

PKG=node_modules/@tensorflow/tfjs-node
TFJS_NODE_VERSION=$(node -p "require('./package.json').optionalDependencies['@tensorflow/tfjs-node']")

say() { printf 'setup-native-tf: %s\n' "$*" >&2; }
fail() { say "error: $*"; exit 1; }

# Loads tfjs-node as the project does and prints the backend and TensorFlow's version.
probe() {
  TF_CPP_MIN_LOG_LEVEL=2 node -e "
    const tf = require('@tensorflow/tfjs-node');
    const version = tf.backend().binding.TF_Version;
    if (tf.getBackend() !== 'tensorflow') throw new Error('backend is ' + tf.getBackend());
    console.log('tfjs-node ' + tf.version['tfjs-node'] + ' on TensorFlow ' + version + ': backend ' + tf.getBackend());"
}

[ "$(uname -s)-$(uname -m)" = Linux-x86_64 ] || fail "only Linux x86_64 is supported (PyPI's tensorflow-cpu wheel), not $(uname -s)-$(uname -m)"
[ -d node_modules ] || fail "node_modules/ is missing: run npm ci first"

if [ -f "$PKG/package.json" ] && [ "$(node -p "require('./$PKG/package.json').version")" = "$TFJS_NODE_VERSION" ] && loaded=$(probe 2>/dev/null); then
  say "already set up: $loaded"
  exit 0
fi

started=$(date +%s)
sudo=""
if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi

# Build tools for node-gyp, and pip to fetch the wheel (Debian's python3 if it has pip).
PYTHON=""
for candidate in /usr/bin/python3 python3; do
  if "$candidate" -m pip --version >/dev/null 2>&1; then PYTHON=$candidate; break; fi
done
if ! command -v g++ >/dev/null || ! command -v make >/dev/null || [ -z "$PYTHON" ]; then
  say "installing g++, make and pip from Debian"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update
  $sudo apt-get install -y --no-install-recommends g++ make python3-pip
  PYTHON=/usr/bin/python3
fi

# node-gyp compiles against Node's headers; the nodejs package ships them (never downloaded).
NODE_DIR=$(node -p "require('path').resolve(process.execPath, '..', '..')")
[ -f "$NODE_DIR/include/node/node_api.h" ] || fail "Node's headers are missing ($NODE_DIR/include/node/node_api.h): install the nodejs package that ships them"

# The package itself, without its download script (npm removed it when that script failed).
if [ ! -f "$PKG/package.json" ] || [ "$(node -p "require('./$PKG/package.json').version")" != "$TFJS_NODE_VERSION" ]; then
  say "installing @tensorflow/tfjs-node@$TFJS_NODE_VERSION without its install script"
  npm install --no-save --ignore-scripts --no-audit --no-fund "@tensorflow/tfjs-node@$TFJS_NODE_VERSION"
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
say "fetching tensorflow-cpu $TF_VERSION from PyPI (checked by SHA-256)"
echo "tensorflow-cpu==$TF_VERSION --hash=sha256:$TF_WHEEL_SHA256" > "$work/requirements.txt"
"$PYTHON" -m pip download --quiet --no-deps --only-binary=:all: --require-hashes \
  --platform "$TF_WHEEL_PLATFORM" --python-version "$TF_WHEEL_PYTHON" --implementation cp \
  -r "$work/requirements.txt" -d "$work"
wheel=$(ls "$work"/tensorflow_cpu-"$TF_VERSION"-*.whl)

say "laying out $PKG/deps from the wheel"
rm -rf "$PKG/deps" "$PKG/lib" "$PKG"/build-tmp-napi-v*
"$PYTHON" - "$wheel" "$PKG/deps" <<'EOF'
import os, shutil, sys, zipfile
wheel, deps = sys.argv[1], sys.argv[2]
libs = {'tensorflow/libtensorflow_cc.so.2', 'tensorflow/libtensorflow_framework.so.2'}
found = set()
with zipfile.ZipFile(wheel) as z:
    for info in z.infolist():
        name = info.filename
        if name in libs:
            target = os.path.join(deps, 'lib', os.path.basename(name))
            found.add(name)
        elif name.startswith('tensorflow/include/') and not name.endswith('/'):
            target = os.path.join(deps, 'include', name[len('tensorflow/include/'):])
        else:
            continue
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with z.open(info) as src, open(target, 'wb') as dst:
            shutil.copyfileobj(src, dst)
missing = libs - found
if missing:
    sys.exit(f'{wheel}: missing {", ".join(sorted(missing))}')
EOF
(
  cd "$PKG/deps/lib"
  # The addon links -ltensorflow -ltensorflow_framework; the install script builds instead of
  # downloading when libtensorflow.so.2.9.1 (the version it expects) exists.
  ln -sf libtensorflow_cc.so.2 libtensorflow.so
  ln -sf libtensorflow_cc.so.2 libtensorflow.so.2.9.1
  ln -sf libtensorflow_framework.so.2 libtensorflow_framework.so
)
# A custom TensorFlow library (tfjs-node's custom-binary.json) makes its install script build
# the addon from source rather than try to download a prebuilt one.
echo "{\"tf-lib\": \"tensorflow-cpu $TF_VERSION wheel from PyPI (scripts/setup-native-tf.sh)\"}" > "$PKG/scripts/custom-binary.json"

say "building the addon (node-gyp, headers from $NODE_DIR/include/node)"
npm_config_nodedir="$NODE_DIR" npm rebuild @tensorflow/tfjs-node --foreground-scripts
loaded=$(probe) || fail "the addon was built but does not load (see the error above)"
say "$loaded"
say "done in $(($(date +%s) - started)) s"
