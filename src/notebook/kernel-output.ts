/**
 * Where notebook outputs go: the `NotebookOutput` interface and its two implementations, one per
 * TypeScript kernel the notebooks run in: tslab (Node) and Deno's `deno jupyter`. `kernelOutput()`
 * picks the kernel the code runs in.
 *
 * tslab is loaded only when something is displayed, so this module imports fine outside a kernel.
 */
import { randomUUID } from 'node:crypto';
import { firstLine } from '../util/text';

/** One notebook output that later writes overwrite (tslab's `newDisplay()`, a Deno display id). */
export interface DisplaySlot {
  html(html: string): void;
}

/** Where chart outputs go: by default the kernel's display functions. */
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
        `${what} works in a Jupyter notebook run by the tslab or the Deno kernel; outside one, write files with exportFigure or exportRunCharts`,
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

/** The part of Deno's `Deno.jupyter` used here (Deno's own types are not in this Node project). */
export interface DenoJupyter {
  display(
    bundle: Record<string, unknown>,
    options: { raw: true; display_id?: string; update?: boolean },
  ): Promise<void> | void;
}

/** `Deno.jupyter` when this code runs in Deno's Jupyter kernel, else null. */
export function denoJupyter(scope: unknown = globalThis): DenoJupyter | null {
  const jupyter = (scope as { Deno?: { jupyter?: Partial<DenoJupyter> } }).Deno?.jupyter;
  return typeof jupyter?.display === 'function' ? (jupyter as DenoJupyter) : null;
}

type DenoDisplayOptions = Parameters<DenoJupyter['display']>[1];

/**
 * One `Deno.jupyter.display` call. It returns a promise (the message is queued at once, in order): a failure is
 * reported, not left unhandled.
 */
function denoSend(jupyter: DenoJupyter, bundle: Record<string, unknown>, options: DenoDisplayOptions): void {
  const sent = jupyter.display(bundle, options);
  if (sent instanceof Promise)
    sent.catch((error: unknown) => console.error(`notebook display failed: ${firstLine(error)}`));
}

/**
 * Outputs through Deno's `Deno.jupyter.display`: raw MIME bundles, and a display id for outputs
 * redrawn in place (the first write shows it, later ones update it).
 */
export function denoOutput(jupyter: DenoJupyter): NotebookOutput {
  const send = (bundle: Record<string, unknown>, options: DenoDisplayOptions) => denoSend(jupyter, bundle, options);
  return {
    html: (html) => send({ 'text/html': html }, { raw: true }),
    newDisplay: () => {
      const displayId = `mnist-${randomUUID()}`;
      let shown = false;
      return {
        html: (html) => {
          send({ 'text/html': html }, { raw: true, display_id: displayId, update: shown });
          shown = true;
        },
      };
    },
    note: (line) => console.log(line),
  };
}

/** The display functions of the kernel this code runs in: Deno's when `Deno.jupyter` is there, else tslab's. */
export function kernelOutput(): NotebookOutput {
  const deno = denoJupyter();
  return deno !== null ? denoOutput(deno) : tslabOutput();
}

/** Shows a PNG image (e.g. of `digitsPng`) in the notebook, in either kernel. */
export function showPng(bytes: Uint8Array): void {
  const deno = denoJupyter();
  if (deno !== null) denoSend(deno, { 'image/png': Buffer.from(bytes).toString('base64') }, { raw: true });
  else inKernel('showing an image', () => loadTslab().display.png(bytes));
}
