/** Small text helpers shared by the library's messages and logs. */

/** The message of anything thrown: an `Error`'s message, else the value as text. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * The first line of `errorMessage(error)`: enough in a one-line message (tfjs and playwright add stack-like detail
 * below).
 */
export function firstLine(error: unknown): string {
  return errorMessage(error).split('\n')[0];
}

/**
 * A fraction as a percentage with `digits` decimals and a space before the sign, as every log line of the package
 * prints it: `0.9784` -> `97.84 %`.
 */
export function formatPercent(fraction: number, digits = 2): string {
  return `${(fraction * 100).toFixed(digits)} %`;
}

/** A duration such as "45 s", "3 min 05 s" or "1 h 02 min". */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return 'unknown';
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} min`;
}
