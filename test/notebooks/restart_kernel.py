"""Kills a real tslab kernel during a training cell that calls trainOrLoad, restarts it, re-runs the cell.

Usage: /usr/bin/python3 restart_kernel.py NOTEBOOKS_DIR RUNS_DIR

Starts the tslab kernel in NOTEBOOKS_DIR, runs a training cell (trainOrLoad, saved runs in
RUNS_DIR) and, once it is past step 1,100, restarts the kernel at once (the process is killed, as
when a kernel dies or *Restart Kernel* is pressed during a run). Then runs the set-up and the same
training cell again in the new kernel, and a third cell that trains the same configuration
without interruption in another folder, for comparison. Prints one JSON line with what it found;
exit status 0 when it could run the scenario (the caller checks the findings), 2 when not.
"""
import json
import sys

# The interrupt test's script, beside this one, checks for Jupyter and runs cells.
from interrupt_kernel import json_line, run_cell, started_kernel, stream_until

SETUP = """
import { setupBackend, loadMnist, trainOrLoad, type TrainOrLoadResult } from '../dist';
await setupBackend('wasm');
const data = await loadMnist();
const restartConfig = { trainingSteps: 3000, evalEvery: 500 };
const summary = (r: TrainOrLoadResult) => ({ resumedFrom: r.resumedFrom, reused: r.reused, status: r.history.status, run: r.run.name,
  evaluations: r.history.evaluations.map((e) => [e.step, e.validationAccuracy, e.testAccuracy]),
  steps: r.history.steps.map((s) => [s.step, s.crossEntropy, s.totalLoss, s.learningRate, s.meanAbsGradient]),
  final: r.history.final });
"""

TRAIN = """
let announced = false;
const result = await trainOrLoad(data, { name: 'restarted', config: restartConfig, runsDir: RUNS, checkpointEvery: 200, log: console.log,
  onProgress: (p) => { if (!announced && p.step >= 1100) { announced = true; console.log('PAST STEP 1100'); } } });
console.log('RESULT ' + JSON.stringify(summary(result)));
"""

REFERENCE = """
const reference = await trainOrLoad(data, { name: 'reference', config: restartConfig, runsDir: RUNS + '-reference', checkpointEvery: 0 });
console.log('RESULT ' + JSON.stringify(summary(reference)));
"""


def main(argv):
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    runs = json.dumps(argv[2])
    findings = {}
    with started_kernel("tslab", argv[1]) as (km, kc):
        _, out, err = run_cell(kc, f"const RUNS = {runs};\n" + SETUP)
        if err.strip():
            print(f"error: set-up cell failed: {out} {err}", file=sys.stderr)
            return 2
        msg_id = kc.execute(TRAIN, stop_on_error=False)
        past, first_log = stream_until(kc, msg_id, "PAST STEP 1100", timeout=600)
        if not past:
            print(f"error: training did not pass step 1100: {first_log}", file=sys.stderr)
            return 2
        old_pid = km.provisioner.pid if hasattr(km, "provisioner") and km.provisioner else None
        # now=True: the kernel process is killed, not asked to shut down: as when it dies.
        km.restart_kernel(now=True)
        kc.wait_for_ready(timeout=120)
        findings["firstLog"] = first_log
        findings["restarted"] = km.is_alive()
        findings["oldPid"] = old_pid
        run_cell(kc, f"const RUNS = {runs};\n" + SETUP)
        _, out, err = run_cell(kc, TRAIN, timeout=600)
        findings["secondLog"] = out
        findings["resumed"] = json_line(out, "RESULT", err)
        _, out, err = run_cell(kc, REFERENCE, timeout=600)
        findings["reference"] = json_line(out, "RESULT", err)
    print(json.dumps(findings))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
