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

/**
 * A count with thousands separators: `30000` -> `30,000` (rounded to a whole number first, so a speed or a mean reads
 * as a count).
 */
export function formatCount(n: number): string {
  return Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : String(n);
}

/**
 * A number with `digits` significant digits, in plain notation from 0.0001 to below 1e6 (`1319.666259765625` ->
 * `1320`, `0.0123456` -> `0.01235`), in exponent notation outside it (`2.345e-7`); NaN and the infinities as they are.
 */
export function formatSignificant(value: number, digits = 4): string {
  if (!Number.isFinite(value)) return String(value);
  if (value === 0) return '0';
  const size = Math.abs(value);
  // Number() drops the zeros toPrecision keeps ("0.1000" -> 0.1) and turns "1.320e+3" into 1320.
  if (size >= 1e-4 && size < 1e6) return String(Number(value.toPrecision(digits)));
  return value
    .toExponential(digits - 1)
    .replace(/\.?0+e/, 'e')
    .replace('e+', 'e');
}

/** A loss as messages print it: 4 significant digits (`formatSignificant`). */
export function formatLoss(loss: number): string {
  return formatSignificant(loss, 4);
}

/** Steps per second: whole (with separators) from 100 up, else one decimal: `1234.5` -> `1,235`, `12.34` -> `12.3`. */
export function formatSpeed(stepsPerSecond: number): string {
  return stepsPerSecond >= 100 ? formatCount(stepsPerSecond) : stepsPerSecond.toFixed(1);
}

/** A duration such as "45 s", "3 min 05 s" or "1 h 02 min". */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return 'unknown';
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} min`;
}
