/**
 * Where notebook outputs go: the `NotebookOutput` interface, and its implementation for the tslab
 * kernel. Another kernel (e.g. Deno's) needs only another implementation of the interface.
 *
 * tslab is loaded only when something is displayed, so this module imports fine outside a kernel.
 */
import { firstLine } from '../util/text';

/** One notebook output that later writes overwrite (tslab's `newDisplay()`). */
export interface DisplaySlot {
  html(html: string): void;
}

/** Where chart outputs go: by default tslab's display functions. */
export interface NotebookOutput {
  /** A new output. */
  html(html: string): void;
  /** A new output that can be redrawn in place. */
  newDisplay(): DisplaySlot;
  /** A one-line note (printed to the cell's output). */
  note(line: string): void;
}

type Tslab = typeof import('tslab');

function loadTslab(): Tslab {
  try {
    // Loaded here, not at the top: importing the charts must not need a kernel.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require('tslab') as Tslab;
  } catch (error) {
    throw new Error(`notebook display needs the tslab package (${firstLine(error)})`);
  }
}

/** Runs `action`, turning tslab's bare "Not ready" (no kernel) into what to do instead. */
function inKernel<T>(what: string, action: () => T): T {
  try {
    return action();
  } catch (error) {
    if (error instanceof Error && error.message === 'Not ready') {
      throw new Error(
        `${what} works in a Jupyter notebook run by the tslab kernel; outside one, write files with exportFigure or exportRunCharts`,
      );
    }
    throw error;
  }
}

/** tslab's display functions (loaded on first use). */
export function tslabOutput(): NotebookOutput {
  return {
    html: (html) => inKernel('showing a chart', () => loadTslab().display.html(html)),
    newDisplay: () => {
      const slot = loadTslab().newDisplay();
      return { html: (html) => inKernel('showing a chart', () => slot.html(html)) };
    },
    note: (line) => console.log(line),
  };
}
