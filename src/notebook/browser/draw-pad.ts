/**
 * Runs in the notebook's page (see README.md): the drawing pad of `drawDigit`. It turns the drawing
 * into the 28 x 28 input with the package's own preprocessing and runs the 8-bit network on it,
 * both given as `library` (their compiled text is embedded before this function).
 */
import type { Activation } from '../../core/config';
import type { preprocessRgba } from '../../predict/digit-preprocess';
import type { dequantizeLayer, quantizedForward } from '../../predict/quantize';

/** A quantised network as JSON-able text: base64 of each little-endian array. */
export interface EncodedModel {
  activation: Activation;
  layers: { rows: number; cols: number; values: string; scales: string; biases: string }[];
}

/** What `runDrawPad` is given, as JSON. */
export interface DrawPadSettings {
  /** The id of the pad's root element. */
  id: string;
  encoded: EncodedModel;
  /** Side of the drawing canvas, and brush diameter, in canvas pixels. */
  canvasSize: number;
  brushSize: number;
  /** The ink level below which a pixel is background (see `preprocessRgba`). */
  inkThreshold: number;
  /** The class of the note shown where scripts do not run, removed when the pad is built. */
  noteClass: string;
}

/** The package's functions the pad uses, defined in the page by their embedded compiled text. */
export interface DrawPadLibrary {
  preprocessRgba: typeof preprocessRgba;
  dequantizeLayer: typeof dequantizeLayer;
  quantizedForward: typeof quantizedForward;
}

/** What the pad shows, on its root element as `mnistDraw` (for tests and curious readers). */
export interface DrawPadState {
  pixels: number[] | null;
  probabilities: number[] | null;
  predicted: number | null;
  problem: string | null;
  updates: number;
}

/** Builds the pad inside the element `settings.id` once that is in the page (it waits up to about ten minutes). */
export function runDrawPad(settings: DrawPadSettings, library: DrawPadLibrary): void {
  const { canvasSize: SIZE, brushSize: BRUSH } = settings;
  const { preprocessRgba, dequantizeLayer, quantizedForward } = library;

  function bytes(text: string): ArrayBuffer {
    const raw = atob(text);
    const out = new Uint8Array(raw.length);
    for (let i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
    return out.buffer;
  }
  function decode() {
    return {
      activation: settings.encoded.activation,
      layers: settings.encoded.layers.map((l) =>
        dequantizeLayer({
          rows: l.rows,
          cols: l.cols,
          values: new Int8Array(bytes(l.values)),
          scales: new Float32Array(bytes(l.scales)),
          biases: new Float32Array(bytes(l.biases)),
        }),
      ),
    };
  }
  function el<K extends keyof HTMLElementTagNameMap>(tag: K, style: string, text?: string): HTMLElementTagNameMap[K] {
    const e = document.createElement(tag);
    if (style) e.style.cssText = style;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function canvasOf(style: string, width: number, height: number, className: string): HTMLCanvasElement {
    const canvas = el('canvas', style);
    canvas.width = width;
    canvas.height = height;
    canvas.className = className;
    return canvas;
  }
  function context(canvas: HTMLCanvasElement, options?: CanvasRenderingContext2DSettings): CanvasRenderingContext2D {
    const ctx = canvas.getContext('2d', options);
    if (ctx === null) throw new Error('drawing pad: this browser gives no 2D canvas');
    return ctx;
  }

  /** The pad's elements: drawing canvas and Clear button, preview and answer, one bar per class. */
  function layout(root: HTMLElement) {
    const row = el(
      'div',
      'display:flex;flex-wrap:wrap;gap:16px;align-items:flex-start;font-family:sans-serif;font-size:13px;color:var(--jp-ui-font-color1, #222)',
    );
    const left = el('div', 'display:flex;flex-direction:column;gap:6px');
    left.appendChild(el('div', '', 'Draw a digit:'));
    const canvas = canvasOf(
      `width:${SIZE}px;height:${SIZE}px;border:1px solid #999;border-radius:4px;cursor:crosshair;touch-action:none;background:#fff`,
      SIZE,
      SIZE,
      'mnist-draw-canvas',
    );
    left.appendChild(canvas);
    const clear = el('button', 'align-self:flex-start;padding:2px 12px', 'Clear');
    clear.className = 'mnist-draw-clear';
    left.appendChild(clear);
    const middle = el('div', 'display:flex;flex-direction:column;gap:6px');
    middle.appendChild(el('div', '', 'What the network sees (28 x 28):'));
    const preview = canvasOf(
      'width:140px;height:140px;image-rendering:pixelated;border:1px solid #999;background:#000',
      28,
      28,
      'mnist-draw-preview',
    );
    middle.appendChild(preview);
    const answer = el('div', 'font-size:15px;font-weight:bold;min-height:20px');
    answer.className = 'mnist-draw-answer';
    middle.appendChild(answer);
    const right = el('div', 'display:flex;flex-direction:column;gap:3px;min-width:240px');
    right.appendChild(el('div', '', 'Probabilities:'));
    const bars: { bar: HTMLElement; label: HTMLElement }[] = [];
    for (let c = 0; c < 10; c++) {
      const line = el('div', 'display:flex;align-items:center;gap:6px');
      line.appendChild(el('span', 'width:10px;text-align:right;font-family:monospace', String(c)));
      const track = el(
        'div',
        'flex:1;height:14px;background:var(--jp-layout-color2, #eee);border-radius:2px;overflow:hidden',
      );
      const bar = el('div', 'height:100%;width:0;background:#7aa6d6');
      track.appendChild(bar);
      line.appendChild(track);
      const label = el('span', 'width:56px;text-align:right;font-family:monospace', '');
      line.appendChild(label);
      right.appendChild(line);
      bars.push({ bar, label });
    }
    row.append(left, middle, right);
    root.appendChild(row);
    return { canvas, clear, preview, answer, bars };
  }

  function build(root: HTMLElement & { mnistDraw?: DrawPadState }): void {
    if (root.getAttribute('data-ready')) return;
    root.setAttribute('data-ready', '1');
    const model = decode();
    root.querySelector(`.${settings.noteClass}`)?.remove();
    const { canvas, clear, preview, answer, bars } = layout(root);
    const ctx = context(canvas, { willReadFrequently: true });
    const pctx = context(preview);
    const blank = () => {
      ctx.fillStyle = '#fff';
      ctx.fillRect(0, 0, SIZE, SIZE);
    };
    const state: DrawPadState = { pixels: null, probabilities: null, predicted: null, problem: null, updates: 0 };
    root.mnistDraw = state;

    /** Reads the canvas, runs the network, shows the input and the probabilities. */
    const show = () => {
      state.updates += 1;
      const result = preprocessRgba(ctx.getImageData(0, 0, SIZE, SIZE).data, SIZE, SIZE, settings.inkThreshold);
      const image = pctx.createImageData(28, 28);
      if (result.problem !== undefined) {
        Object.assign(state, { pixels: null, probabilities: null, predicted: null, problem: result.problem });
        root.removeAttribute('data-predicted');
        for (let k = 0; k < 784; k++) image.data[4 * k + 3] = 255;
        pctx.putImageData(image, 0, 0);
        answer.textContent = '';
        for (const b of bars) {
          b.bar.style.width = '0';
          b.label.textContent = '';
        }
        return;
      }
      const probabilities = quantizedForward(model, result.pixels);
      let best = 0;
      for (let c = 1; c < 10; c++) if (probabilities[c] > probabilities[best]) best = c;
      for (let i = 0; i < 784; i++) {
        const v = Math.round(result.pixels[i] * 255);
        image.data.set([v, v, v, 255], 4 * i);
      }
      pctx.putImageData(image, 0, 0);
      bars.forEach((b, c) => {
        b.bar.style.width = `${(probabilities[c] * 100).toFixed(1)}%`;
        b.bar.style.background = c === best ? '#1f5fa8' : '#7aa6d6';
        b.label.textContent = `${(probabilities[c] * 100).toFixed(1)} %`;
      });
      answer.textContent = `The network reads: ${best} (${(probabilities[best] * 100).toFixed(1)} %)`;
      Object.assign(state, { pixels: Array.from(result.pixels), probabilities, predicted: best, problem: null });
      root.setAttribute('data-predicted', String(best));
    };
    // At most one update per frame, however many pointer events come.
    let pending = false;
    const update = () => {
      if (pending) return;
      pending = true;
      requestAnimationFrame(() => {
        pending = false;
        show();
      });
    };
    drawing(canvas, ctx, update);
    clear.addEventListener('click', () => {
      blank();
      update();
    });
    blank();
    show();
  }

  /** Strokes with the mouse, a finger or a pen; one pointer draws at a time (a second finger or a palm is ignored). */
  function drawing(canvas: HTMLCanvasElement, ctx: CanvasRenderingContext2D, update: () => void): void {
    let last: { x: number; y: number } | null = null;
    let active: number | null = null;
    const point = (e: PointerEvent) => {
      const r = canvas.getBoundingClientRect();
      return { x: ((e.clientX - r.left) * SIZE) / r.width, y: ((e.clientY - r.top) * SIZE) / r.height };
    };
    const stroke = (from: { x: number; y: number }, to: { x: number; y: number }) => {
      ctx.strokeStyle = '#000';
      ctx.lineWidth = BRUSH;
      ctx.lineCap = 'round';
      ctx.lineJoin = 'round';
      // A soft edge, like a pen scanned and anti-aliased.
      ctx.shadowColor = 'rgba(0,0,0,0.6)';
      ctx.shadowBlur = BRUSH / 4;
      ctx.beginPath();
      ctx.moveTo(from.x, from.y);
      ctx.lineTo(to.x, to.y);
      ctx.stroke();
    };
    canvas.addEventListener('pointerdown', (e) => {
      if ((e.button !== 0 && e.pointerType === 'mouse') || active !== null) return;
      e.preventDefault();
      active = e.pointerId;
      // Keep the stroke when the pointer leaves the canvas; a pointer the browser no longer tracks cannot be captured.
      try {
        canvas.setPointerCapture(e.pointerId);
      } catch {
        // draw without capture
      }
      last = point(e);
      stroke(last, last);
      update();
    });
    canvas.addEventListener('pointermove', (e) => {
      if (last === null || e.pointerId !== active) return;
      e.preventDefault();
      // Older browsers lack getCoalescedEvents; with it, a fast stroke keeps all its points.
      const coalesced = typeof e.getCoalescedEvents === 'function' ? e.getCoalescedEvents() : [];
      for (const ev of coalesced.length > 0 ? coalesced : [e]) {
        const p = point(ev);
        stroke(last, p);
        last = p;
      }
      update();
    });
    const end = (e: PointerEvent) => {
      if (e.pointerId !== active) return;
      last = null;
      active = null;
      update();
    };
    canvas.addEventListener('pointerup', end);
    canvas.addEventListener('pointercancel', end);
  }

  let tries = 0;
  const start = () => {
    const root = document.getElementById(settings.id);
    if (!root) {
      tries += 1;
      if (tries < 700) setTimeout(start, tries < 100 ? 100 : 1000);
      return;
    }
    build(root);
  };
  start();
}
