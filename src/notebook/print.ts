/** Tables and digits for a notebook's text output: aligned text tables, digits as characters or as a PNG strip. */
import { PNG } from 'pngjs';
import type { DataSet } from '../data/mnist';

/** Rows as a plain-text table with aligned columns (numbers right-aligned), for `console.log`. */
export function textTable(header: string[], rows: (string | number)[][]): string {
  const cells = [header, ...rows.map((row) => row.map(String))];
  const widths = header.map((_, column) => Math.max(...cells.map((row) => (row[column] ?? '').length)));
  const numeric = header.map((_, column) => rows.length > 0 && rows.every((row) => typeof row[column] === 'number'));
  const line = (row: string[]) =>
    row
      .map((cell, column) => (numeric[column] ? cell.padStart(widths[column]) : cell.padEnd(widths[column])))
      .join('  ')
      .trimEnd();
  return [line(cells[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join('\n');
}

/** The side of a square image of `imageSize` pixels (28 for MNIST). */
function sideOf(data: DataSet): number {
  const side = Math.round(Math.sqrt(data.imageSize));
  if (side * side !== data.imageSize) throw new Error(`images of ${data.imageSize} pixels are not square`);
  return side;
}

function checkIndex(data: DataSet, index: number): void {
  if (!Number.isInteger(index) || index < 0 || index >= data.count) {
    throw new RangeError(`image index ${index} is outside 0-${data.count - 1}`);
  }
}

/** One image as text: darker pixels are denser characters; blank rows above and below are left out. */
export function asciiDigit(data: DataSet, index: number): string {
  checkIndex(data, index);
  const side = sideOf(data);
  const shades = ' .:-=+*#%@';
  const lines: string[] = [];
  for (let row = 0; row < side; row++) {
    let line = '';
    for (let col = 0; col < side; col++) {
      const value = data.images[index * data.imageSize + row * side + col];
      line += shades[Math.min(shades.length - 1, Math.floor(value * shades.length))];
    }
    lines.push(line.trimEnd());
  }
  while (lines.length > 1 && lines[0] === '') lines.shift();
  while (lines.length > 1 && lines.at(-1) === '') lines.pop();
  return lines.join('\n');
}

/**
 * Images side by side in one PNG (black digits on white, each pixel drawn `scale` times
 * larger), e.g. for `showPng`.
 */
export function digitsPng(data: DataSet, indices: number[], scale = 3): Uint8Array {
  if (indices.length === 0) throw new RangeError('no images to draw');
  if (!Number.isInteger(scale) || scale < 1 || scale > 16)
    throw new RangeError(`scale must be a whole number 1-16, got ${scale}`);
  indices.forEach((index) => checkIndex(data, index));
  const side = sideOf(data);
  const gap = 2;
  const cell = side * scale;
  const png = new PNG({ width: indices.length * (cell + gap) - gap, height: cell, colorType: 6 });
  png.data.fill(255);
  indices.forEach((index, n) => {
    for (let y = 0; y < cell; y++) {
      for (let x = 0; x < cell; x++) {
        const value = data.images[index * data.imageSize + Math.floor(y / scale) * side + Math.floor(x / scale)];
        const shade = 255 - Math.round(Math.min(1, Math.max(0, value)) * 255);
        const at = (y * png.width + n * (cell + gap) + x) * 4;
        png.data[at] = shade;
        png.data[at + 1] = shade;
        png.data[at + 2] = shade;
      }
    }
  });
  return new Uint8Array(PNG.sync.write(png));
}
