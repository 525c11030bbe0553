"""Interrupts a training run in a real kernel, as Jupyter's *Kernel -> Interrupt* does.

Usage: /usr/bin/python3 interrupt_kernel.py NOTEBOOKS_DIR [KERNEL]

Starts the kernel KERNEL (default tslab; or deno) in NOTEBOOKS_DIR, starts a long training run in one cell, interrupts the
kernel (SIGINT, Jupyter's default interrupt mode) once training is under way, and records what
the interrupted cell printed, how soon the kernel was idle, and whether the cell queued after it
ran; then asks the same kernel, in later cells, where the run stands. Prints one JSON line with what it found; exit
status 0 when it could run the scenario (the caller checks the findings), 2 when not.
"""
import json
import sys
import time
from contextlib import contextmanager
from queue import Empty

try:
    from jupyter_client.manager import start_new_kernel
except ImportError as error:  # pragma: no cover - depends on the machine
    print(f"error: {error}; run with Debian's /usr/bin/python3 (python3-jupyter-client)", file=sys.stderr)
    sys.exit(2)

SETUP = """
import * as tf from '@tensorflow/tfjs';
import { setupBackend, loadMnist, Trainer } from '../dist/index.js';
import { runInNotebook } from '../dist/notebook/index.js';
await setupBackend('wasm');
const data = await loadMnist();
const trainer = new Trainer(data, { config: { trainingSteps: 100000, evalEvery: 100000, recordEvery: 10 } });
"""

RUN = """
let announced = false;
const history = await runInNotebook(trainer, { onProgress: (p) => { if (!announced && p.step >= 200) { announced = true; console.log('TRAINING UNDER WAY'); } } });
"""

REPORT = """
console.log('REPORT ' + JSON.stringify({ status: trainer.history.status, step: trainer.globalStep, recorded: trainer.history.steps.length, tensors: tf.memory().numTensors }));
"""


# Messages of other cells read while waiting for one cell's: tslab starts a queued cell before
# it reports the previous one idle, so their messages interleave.
STASH = {}


@contextmanager
def started_kernel(name, cwd):
    """The kernel `name` started in `cwd`, with its client; shut down on leaving, whatever happened."""
    km, kc = start_new_kernel(kernel_name=name, cwd=cwd, startup_timeout=120)
    try:
        yield km, kc
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def next_msg(kc, msg_id, timeout):
    """The next iopub message of the cell `msg_id` (those of other cells are kept for later)."""
    waiting = STASH.get(msg_id)
    if waiting:
        return waiting.pop(0)
    while True:
        msg = kc.get_iopub_msg(timeout=timeout)
        parent = msg["parent_header"].get("msg_id")
        if parent == msg_id:
            return msg
        STASH.setdefault(parent, []).append(msg)


def collect(kc, msg_id, timeout=300, seen=""):
    """Reads the output of the cell `msg_id` until the kernel is idle after it.

    Returns (stdout text, stderr and error text, error outputs, monotonic time of the idle
    message); `seen` is stdout already read.
    """
    out, err, errors = [seen], [], 0
    deadline = time.monotonic() + timeout
    while True:
        msg = next_msg(kc, msg_id, timeout=max(1, deadline - time.monotonic()))
        kind, content = msg["msg_type"], msg["content"]
        if kind == "stream":
            (out if content["name"] == "stdout" else err).append(content["text"])
        elif kind == "error":
            errors += 1
            err.append(f"{content['ename']}: {content['evalue']}")
        elif kind == "status" and content["execution_state"] == "idle":
            idle = time.monotonic()
            late_out, late_err = late_streams(kc, msg_id)
            return "".join(out + late_out), "".join(err + late_err), errors, idle


# Deno's kernel (2.9.8) may send a cell's last printed lines just after its idle status (a race in
# its output forwarding; they come within milliseconds): read on this long for them.
LATE_GRACE_SECONDS = 0.5


def late_streams(kc, msg_id):
    """Stream output of the cell `msg_id` that arrives within LATE_GRACE_SECONDS after its idle status."""
    out, err = [], []
    deadline = time.monotonic() + LATE_GRACE_SECONDS
    while time.monotonic() < deadline:
        try:
            msg = next_msg(kc, msg_id, timeout=max(0.01, deadline - time.monotonic()))
        except Empty:
            break
        if msg["msg_type"] == "stream":
            (out if msg["content"]["name"] == "stdout" else err).append(msg["content"]["text"])
    return out, err


def run_cell(kc, code, timeout=300):
    """Runs a cell; returns (reply status, stdout text, error text)."""
    msg_id = kc.execute(code, stop_on_error=False)
    out, err, _, _ = collect(kc, msg_id, timeout)
    return shell_reply(kc, msg_id)["content"]["status"], out, err


def shell_reply(kc, msg_id):
    """The execute_reply of `msg_id` (other replies, e.g. to kernel_info, are passed over)."""
    while True:
        reply = kc.get_shell_msg(timeout=60)
        if reply["parent_header"].get("msg_id") == msg_id:
            return reply


def json_line(out, prefix, err=""):
    """The JSON a cell printed on its line starting with `prefix` and a space."""
    for line in out.splitlines():
        if line.startswith(prefix + " "):
            return json.loads(line[len(prefix) + 1:])
    raise RuntimeError(f"no {prefix} line: {out} {err}")


def stream_until(kc, msg_id, marker, timeout):
    """Reads the output of the cell `msg_id`, still running, until a line contains `marker`.

    Returns (whether it appeared, the text seen so far); stops early on an error in the cell.
    """
    started = time.monotonic()
    seen = []
    while time.monotonic() - started < timeout:
        try:
            msg = next_msg(kc, msg_id, timeout=5)
        except Empty:
            continue
        if msg["msg_type"] == "stream":
            seen.append(msg["content"]["text"])
            if marker in msg["content"]["text"]:
                return True, "".join(seen)
        elif msg["msg_type"] == "error":
            seen.append(f"{msg['content']['ename']}: {msg['content']['evalue']}")
            break
    return False, "".join(seen)


def report(kc):
    _, out, err = run_cell(kc, REPORT)
    return json_line(out, "REPORT", err)


def main(argv):
    if len(argv) not in (2, 3):
        print(__doc__, file=sys.stderr)
        return 2
    findings = {}
    with started_kernel(argv[2] if len(argv) == 3 else "tslab", argv[1]) as (km, kc):
        status, out, err = run_cell(kc, SETUP)
        if status != "ok":
            print(f"error: set-up cell failed: {out} {err}", file=sys.stderr)
            return 2
        # As Run All does: the training cell and the one after it are queued together, with
        # Jupyter's default stop_on_error=True (a failed cell would drop the queued one).
        msg_id = kc.execute(RUN)
        queued_id = kc.execute(REPORT)
        under_way, log = stream_until(kc, msg_id, "TRAINING UNDER WAY", timeout=300)
        if not under_way:
            print(f"error: training did not get under way: {log}", file=sys.stderr)
            return 2
        km.interrupt_kernel()
        asked = time.monotonic()
        out, err, errors, idle = collect(kc, msg_id, timeout=60, seen=log)
        findings["interruptedCell"] = {
            "status": shell_reply(kc, msg_id)["content"]["status"],
            "secondsToIdle": round(idle - asked, 2),
            "stdoutAfterMarker": out.split("TRAINING UNDER WAY", 1)[1].strip().splitlines(),
            "stderr": err,
            "errorOutputs": errors,
        }
        queued_out, queued_err, _, _ = collect(kc, queued_id, timeout=60)
        queued_status = shell_reply(kc, queued_id)["content"]["status"]
        findings["queuedCell"] = {"status": queued_status, "report": json_line(queued_out, "REPORT", queued_err) if queued_status == "ok" else None}
        first = report(kc)
        time.sleep(3)
        second = report(kc)
        findings.update({"afterInterrupt": first, "threeSecondsLater": second, "kernelAlive": km.is_alive()})
        status, out, err = run_cell(kc, "trainer.dispose();\n" + REPORT)
        findings["afterDispose"] = json_line(out, "REPORT", err)
    print(json.dumps(findings))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
