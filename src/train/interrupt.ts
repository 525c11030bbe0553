/**
 * Interrupts (SIGINT: Ctrl-C, or *Kernel → Interrupt* in Jupyter) taken over while a run trains.
 *
 * The tslab kernel answers SIGINT by rejecting the running cell with its own
 * `Error: Interrupted asynchronously` (printed with its stack trace on stderr) and Jupyter then
 * drops the cells queued after it. While a run trains, `takeInterrupts` detaches the process's
 * other SIGINT listeners (tslab's among them) and turns the interrupt into an abort signal: the
 * run stops after its current step, the cell ends normally, and the cells below run. The
 * listeners are put back by `restore`. A second interrupt before that is handed to them, so a
 * run that does not stop can still be interrupted the usual way.
 */

/** Lets the event loop turn once (pending I/O and signal handlers run). */
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

export interface InterruptScope {
  /** Aborted at the first interrupt. */
  readonly signal: AbortSignal;
  /** Whether an interrupt came. */
  readonly interrupted: boolean;
  /** Puts the other SIGINT listeners back and stops listening; safe to call twice. */
  restore(): void;
}

/**
 * Takes SIGINT over until `restore()`; `onInterrupt` runs at the first one (e.g. to say so).
 *
 * Asynchronous because tslab runs a cell's synchronous start under Node's `breakOnSigint`, which
 * removes every SIGINT listener for that time and then re-adds the ones it had: a listener added
 * (or removed) then would be lost. So this waits one event-loop turn first.
 */
export async function takeInterrupts(onInterrupt?: () => void): Promise<InterruptScope> {
  await nextTurn();
  const controller = new AbortController();
  const others = process.rawListeners('SIGINT') as ((signal: NodeJS.Signals) => void)[];
  let count = 0;
  let restored = false;
  const handler = (signal: NodeJS.Signals) => {
    count++;
    if (count === 1) {
      controller.abort();
      onInterrupt?.();
      return;
    }
    for (const listener of others) listener.call(process, signal);
  };
  // Ours first: with no SIGINT listener at all, Node would go back to exiting on SIGINT.
  process.on('SIGINT', handler);
  for (const listener of others) process.removeListener('SIGINT', listener);
  return {
    signal: controller.signal,
    get interrupted() {
      return count > 0;
    },
    restore() {
      if (restored) return;
      restored = true;
      const present = process.rawListeners('SIGINT');
      for (const listener of others) if (!present.includes(listener)) process.on('SIGINT', listener);
      process.removeListener('SIGINT', handler);
    },
  };
}
