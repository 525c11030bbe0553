/**
 * Training progress on the command line, from the run's events and progress. On a terminal, one status line (a bar,
 * the step, steps per second, time left, the latest loss and validation accuracy) redrawn in place a few times a
 * second, with the lines of the events printed above it. Elsewhere (a pipe, a file, CI) plain lines only: the lines of
 * the events, and a status line after each evaluation. `--quiet` keeps the tutorial's lines. Test accuracies only
 * with `showTestAccuracy`.
 *
 * Written here rather than with a bar library: the line is a few fields, and log lines above
 * the bar, plain lines off a terminal and a test with a fake terminal come out simpler.
 */
import { formatCount, formatDuration, formatLoss, formatPercent, formatSpeed } from '../util/text';
import type { RunEvent } from '../train/events';
import { renderEvent, type MessageOptions } from '../train/messages';
import type { Progress } from '../train/trainer';

/** What the bar is drawn on: `process.stdout`, or a fake one in tests. */
export interface Terminal {
  isTTY?: boolean;
  columns?: number;
  write(text: string): unknown;
}

export type ProgressMode = 'bar' | 'lines' | 'quiet';

/** The bar on a terminal, plain lines elsewhere, the tutorial's lines only when quiet. */
export function progressMode(terminal: Terminal, quiet: boolean): ProgressMode {
  return quiet ? 'quiet' : terminal.isTTY === true ? 'bar' : 'lines';
}

/**
 * The lines of an event that `--quiet` keeps: the tutorial's own (`训练轮数: ...`, the first that `renderEvent` gives
 * for an evaluation and for the end of a completed run), and notices of where the run starts (resumed, reused).
 */
function quietLines(event: RunEvent, lines: string[]): string[] {
  if (event.kind === 'evaluation' || event.kind === 'completed') return lines.slice(0, 1);
  return event.kind === 'resumed' || event.kind === 'reused' ? lines : [];
}

export interface ProgressDisplay {
  /** Prints a line (above the bar, on a terminal). */
  log(line: string): void;
  /** Prints a line unless quiet: set-up messages. */
  info(line: string): void;
  /** Prints the lines of a run event (when quiet, the tutorial's and notices only). */
  event(event: RunEvent): void;
  /** The latest progress; redrawn at most every `minIntervalMs`, and at once after an evaluation. */
  update(progress: Progress): void;
  /** Removes the bar; later lines print as usual. */
  done(): void;
}

export interface ProgressDisplayOptions extends MessageOptions {
  mode: ProgressMode;
  /** Prints one line (default console.log); the bar is drawn on `terminal`. */
  print?: (line: string) => void;
  terminal?: Terminal;
  /** Default 200 ms: five redraws a second at most. */
  minIntervalMs?: number;
  /** Milliseconds; for tests. */
  now?: () => number;
}

const BAR_WIDTH = 20;
const CLEAR_LINE = '\r\x1b[K';

/** `[██████░░░░]  37 %`: the share of the steps done. */
export function bar(step: number, total: number, width = BAR_WIDTH): string {
  const share = total > 0 ? Math.min(1, Math.max(0, step / total)) : 1;
  const full = Math.floor(share * width);
  return `[${'█'.repeat(full)}${'░'.repeat(width - full)}] ${String(Math.floor(share * 100)).padStart(3)} %`;
}

/**
 * The status fields: `step 1,200/3,000 · 312 steps/s · 6 s left · loss 0.2345 · validation 96.12 %` (and `· test
 * 95.90 %` with `showTestAccuracy`). The loss with 4 significant digits.
 */
export function statusText(progress: Progress, options: MessageOptions = {}): string {
  const { step, totalSteps, stepsPerSecond, secondsLeft, crossEntropy, latestEvaluation } = progress;
  const parts = [
    `step ${formatCount(step)}/${formatCount(totalSteps)}`,
    stepsPerSecond > 0 ? `${formatSpeed(stepsPerSecond)} steps/s` : '-- steps/s',
    Number.isFinite(secondsLeft) ? `${formatDuration(secondsLeft)} left` : '-- left',
  ];
  if (Number.isFinite(crossEntropy)) parts.push(`loss ${formatLoss(crossEntropy)}`);
  if (latestEvaluation !== null) {
    parts.push(`validation ${formatPercent(latestEvaluation.validationAccuracy)}`);
    if (options.showTestAccuracy === true) parts.push(`test ${formatPercent(latestEvaluation.testAccuracy)}`);
  }
  return parts.join(' · ');
}

export function createProgressDisplay(options: ProgressDisplayOptions): ProgressDisplay {
  const { mode } = options;
  const print = options.print ?? ((line: string) => console.log(line));
  const terminal = options.terminal ?? process.stdout;
  const minIntervalMs = options.minIntervalMs ?? 200;
  const now = options.now ?? (() => performance.now());
  let shown: string | null = null;
  let latest: Progress | null = null;
  let drawnAt = -Infinity;
  let lastEvaluationStep: number | null = null;

  const draw = () => {
    if (latest === null) return;
    const line = `${bar(latest.step, latest.totalSteps)} ${statusText(latest, options)}`;
    // Wider than the terminal, the line would wrap and `\r` would no longer redraw it in place.
    const columns = terminal.columns ?? 0;
    shown = columns > 1 && line.length >= columns ? line.slice(0, columns - 1) : line;
    terminal.write(`${CLEAR_LINE}${shown}`);
    drawnAt = now();
  };
  const clear = () => {
    if (shown === null) return;
    terminal.write(CLEAR_LINE);
    shown = null;
  };
  const log = (line: string) => {
    if (mode !== 'bar' || shown === null) return print(line);
    clear();
    print(line);
    draw();
  };

  return {
    log,
    info: (line) => {
      if (mode !== 'quiet') log(line);
    },
    event: (event) => {
      const lines = renderEvent(event, options);
      for (const line of mode === 'quiet' ? quietLines(event, lines) : lines) log(line);
    },
    update: (progress) => {
      latest = progress;
      const evaluated =
        progress.latestEvaluation !== null &&
        progress.latestEvaluation.step === progress.step &&
        lastEvaluationStep !== progress.step;
      if (evaluated) lastEvaluationStep = progress.step;
      if (mode === 'bar') {
        if (evaluated || now() - drawnAt >= minIntervalMs) draw();
      } else if (mode === 'lines' && evaluated && progress.step > 0) {
        // Off a terminal: one status line per evaluation, below its log lines.
        print(`  ${statusText(progress, options)}`);
      }
    },
    done: clear,
  };
}
