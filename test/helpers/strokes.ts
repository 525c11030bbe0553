/**
 * Pen strokes from an MNIST image, for drawing it with the mouse in browser tests: the digit's
 * skeleton (Zhang-Suen thinning of its dense pixels), walked into polylines.
 */
import assert from 'node:assert/strict';
import type { Locator, Page } from 'playwright-core';

/** Thins the pixels above `threshold` of a `side` x `side` image to a one-pixel-wide skeleton. */
export function skeleton(pixels: ArrayLike<number>, side = 28, threshold = 0.4): Uint8Array {
  const img = new Uint8Array(side * side);
  for (let i = 0; i < img.length; i++) img[i] = pixels[i] > threshold ? 1 : 0;
  const at = (x: number, y: number) => (x < 0 || y < 0 || x >= side || y >= side ? 0 : img[y * side + x]);
  for (let changed = true; changed;) {
    changed = false;
    for (const pass of [0, 1]) {
      const remove: number[] = [];
      for (let y = 0; y < side; y++) {
        for (let x = 0; x < side; x++) {
          if (img[y * side + x] === 0) continue;
          // P2..P9 clockwise from north.
          const p = [
            at(x, y - 1),
            at(x + 1, y - 1),
            at(x + 1, y),
            at(x + 1, y + 1),
            at(x, y + 1),
            at(x - 1, y + 1),
            at(x - 1, y),
            at(x - 1, y - 1),
          ];
          const b = p.reduce((s, v) => s + v, 0);
          let a = 0;
          for (let k = 0; k < 8; k++) if (p[k] === 0 && p[(k + 1) % 8] === 1) a++;
          const [p2, , p4, , p6, , p8] = p;
          const ok = pass === 0 ? p2 * p4 * p6 === 0 && p4 * p6 * p8 === 0 : p2 * p4 * p8 === 0 && p2 * p6 * p8 === 0;
          if (b >= 2 && b <= 6 && a === 1 && ok) remove.push(y * side + x);
        }
      }
      for (const i of remove) img[i] = 0;
      if (remove.length > 0) changed = true;
    }
  }
  return img;
}

/** The skeleton as strokes of pixel centres (x, y in 0-28), each a walk from an end point. */
export function skeletonStrokes(pixels: ArrayLike<number>, side = 28, threshold = 0.4): { x: number; y: number }[][] {
  const img = skeleton(pixels, side, threshold);
  const visited = new Uint8Array(img.length);
  const neighbours = (i: number) => {
    const x = i % side;
    const y = Math.floor(i / side);
    const out: number[] = [];
    // Orthogonal neighbours first, so that walks follow the line rather than cut corners.
    for (const [dx, dy] of [
      [1, 0],
      [0, 1],
      [-1, 0],
      [0, -1],
      [1, 1],
      [-1, 1],
      [1, -1],
      [-1, -1],
    ]) {
      const nx = x + dx;
      const ny = y + dy;
      if (nx >= 0 && ny >= 0 && nx < side && ny < side && img[ny * side + nx] === 1) out.push(ny * side + nx);
    }
    return out;
  };
  const strokes: { x: number; y: number }[][] = [];
  for (;;) {
    let start = -1;
    let fewest = 9;
    for (let i = 0; i < img.length; i++) {
      if (img[i] === 0 || visited[i] === 1) continue;
      const free = neighbours(i).filter((n) => visited[n] === 0).length;
      if (free < fewest) {
        fewest = free;
        start = i;
      }
    }
    if (start < 0) break;
    const stroke: { x: number; y: number }[] = [];
    // Start next to an already drawn pixel when there is one, so that the stroke joins it.
    const joined = neighbours(start).find((n) => visited[n] === 1);
    if (joined !== undefined) stroke.push({ x: (joined % side) + 0.5, y: Math.floor(joined / side) + 0.5 });
    for (let i = start; i >= 0;) {
      visited[i] = 1;
      stroke.push({ x: (i % side) + 0.5, y: Math.floor(i / side) + 0.5 });
      i = neighbours(i).find((n) => visited[n] === 0) ?? -1;
    }
    strokes.push(stroke);
  }
  return strokes;
}

/** Draws strokes given in MNIST pixel coordinates (0-28) on the canvas, with the mouse. */
export async function drawStrokes(page: Page, canvas: Locator, strokes: { x: number; y: number }[][]): Promise<void> {
  await canvas.scrollIntoViewIfNeeded();
  const box = await canvas.boundingBox();
  assert.ok(box !== null, 'the canvas is not visible');
  const scale = box.width / 28;
  const at = (p: { x: number; y: number }) => ({ x: box.x + p.x * scale, y: box.y + p.y * scale });
  for (const stroke of strokes) {
    const first = at(stroke[0]);
    await page.mouse.move(first.x, first.y);
    await page.mouse.down();
    for (const point of stroke.slice(1)) {
      const p = at(point);
      await page.mouse.move(p.x, p.y, { steps: 2 });
    }
    await page.mouse.up();
  }
}
