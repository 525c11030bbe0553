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

  type Bar = { bar: HTMLElement; label: HTMLElement };
  type Point = { x: number; y: number };

  /** The drawing canvas and its Clear button. */
  function drawColumn() {
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
    return { left, canvas, clear };
  }

  /** What the network sees, and its answer. */
  function previewColumn() {
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
    return { middle, preview, answer };
  }

  /** One line of the probabilities: the class, its bar and its percentage. */
  function barLine(c: number): { line: HTMLElement } & Bar {
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
    return { line, bar, label };
  }

  /** The pad's elements: drawing canvas and Clear button, preview and answer, one bar per class. */
  function layout(root: HTMLElement) {
    const row = el(
      'div',
      'display:flex;flex-wrap:wrap;gap:16px;align-items:flex-start;font-family:sans-serif;font-size:13px;color:var(--jp-ui-font-color1, #222)',
    );
    const { left, canvas, clear } = drawColumn();
    const { middle, preview, answer } = previewColumn();
    const right = el('div', 'display:flex;flex-direction:column;gap:3px;min-width:240px');
    right.appendChild(el('div', '', 'Probabilities:'));
    const bars: Bar[] = [];
    for (let c = 0; c < 10; c++) {
      const { line, bar, label } = barLine(c);
      right.appendChild(line);
      bars.push({ bar, label });
    }
    row.append(left, middle, right);
    root.appendChild(row);
    return { canvas, clear, preview, answer, bars };
  }

  /** The page's view of one drawing: its elements and what it shows. */
  type Pad = ReturnType<typeof layout> & {
    root: HTMLElement;
    state: DrawPadState;
    ctx: CanvasRenderingContext2D;
    pctx: CanvasRenderingContext2D;
  };

  /** Nothing to read (an empty or unusable drawing): a black preview, no answer, empty bars. */
  function showProblem(pad: Pad, image: ImageData, problem: string): void {
    Object.assign(pad.state, { pixels: null, probabilities: null, predicted: null, problem });
    pad.root.removeAttribute('data-predicted');
    for (let k = 0; k < 784; k++) image.data[4 * k + 3] = 255;
    pad.pctx.putImageData(image, 0, 0);
    pad.answer.textContent = '';
    for (const b of pad.bars) {
      b.bar.style.width = '0';
      b.label.textContent = '';
    }
  }

  /** The input as the network sees it, and a bar per class, the most probable one darker. */
  function showProbabilities(pad: Pad, image: ImageData, pixels: Float32Array, probabilities: number[]): void {
    let best = 0;
    for (let c = 1; c < 10; c++) if (probabilities[c] > probabilities[best]) best = c;
    for (let i = 0; i < 784; i++) {
      const v = Math.round(pixels[i] * 255);
      image.data.set([v, v, v, 255], 4 * i);
    }
    pad.pctx.putImageData(image, 0, 0);
    pad.bars.forEach((b, c) => {
      b.bar.style.width = `${(probabilities[c] * 100).toFixed(1)}%`;
      b.bar.style.background = c === best ? '#1f5fa8' : '#7aa6d6';
      b.label.textContent = `${(probabilities[c] * 100).toFixed(1)} %`;
    });
    pad.answer.textContent = `The network reads: ${best} (${(probabilities[best] * 100).toFixed(1)} %)`;
    Object.assign(pad.state, { pixels: Array.from(pixels), probabilities, predicted: best, problem: null });
    pad.root.setAttribute('data-predicted', String(best));
  }

  /** Reads the canvas, runs the network, shows the input and the probabilities. */
  function show(pad: Pad, model: ReturnType<typeof decode>): void {
    pad.state.updates += 1;
    const result = preprocessRgba(pad.ctx.getImageData(0, 0, SIZE, SIZE).data, SIZE, SIZE, settings.inkThreshold);
    const image = pad.pctx.createImageData(28, 28);
    if (result.problem !== undefined) return showProblem(pad, image, result.problem);
    showProbabilities(pad, image, result.pixels, quantizedForward(model, result.pixels));
  }

  /** Calls `run` at most once per frame, however many pointer events come. */
  function perFrame(run: () => void): () => void {
    let pending = false;
    return () => {
      if (pending) return;
      pending = true;
      requestAnimationFrame(() => {
        pending = false;
        run();
      });
    };
  }

  function build(root: HTMLElement & { mnistDraw?: DrawPadState }): void {
    if (root.getAttribute('data-ready')) return;
    root.setAttribute('data-ready', '1');
    const model = decode();
    root.querySelector(`.${settings.noteClass}`)?.remove();
    const elements = layout(root);
    const ctx = context(elements.canvas, { willReadFrequently: true });
    const state: DrawPadState = { pixels: null, probabilities: null, predicted: null, problem: null, updates: 0 };
    const pad: Pad = { ...elements, root, state, ctx, pctx: context(elements.preview) };
    root.mnistDraw = state;
    const blank = () => {
      ctx.fillStyle = '#fff';
      ctx.fillRect(0, 0, SIZE, SIZE);
    };
    const update = perFrame(() => show(pad, model));
    drawing(elements.canvas, ctx, update);
    elements.clear.addEventListener('click', () => {
      blank();
      update();
    });
    blank();
    show(pad, model);
  }

  /** One segment of a stroke, with a soft edge, like a pen scanned and anti-aliased. */
  function stroke(ctx: CanvasRenderingContext2D, from: Point, to: Point): void {
    ctx.strokeStyle = '#000';
    ctx.lineWidth = BRUSH;
    ctx.lineCap = 'round';
    ctx.lineJoin = 'round';
    ctx.shadowColor = 'rgba(0,0,0,0.6)';
    ctx.shadowBlur = BRUSH / 4;
    ctx.beginPath();
    ctx.moveTo(from.x, from.y);
    ctx.lineTo(to.x, to.y);
    ctx.stroke();
  }

  /** Keeps the stroke when the pointer leaves the canvas; a pointer the browser no longer tracks cannot be captured. */
  function capture(canvas: HTMLCanvasElement, pointerId: number): void {
    try {
      canvas.setPointerCapture(pointerId);
    } catch {
      // draw without capture
    }
  }

  /** Strokes with the mouse, a finger or a pen; one pointer draws at a time (a second finger or a palm is ignored). */
  function drawing(canvas: HTMLCanvasElement, ctx: CanvasRenderingContext2D, update: () => void): void {
    let last: Point | null = null;
    let active: number | null = null;
    const point = (e: PointerEvent): Point => {
      const r = canvas.getBoundingClientRect();
      return { x: ((e.clientX - r.left) * SIZE) / r.width, y: ((e.clientY - r.top) * SIZE) / r.height };
    };
    const down = (e: PointerEvent) => {
      if ((e.button !== 0 && e.pointerType === 'mouse') || active !== null) return;
      e.preventDefault();
      active = e.pointerId;
      capture(canvas, e.pointerId);
      last = point(e);
      stroke(ctx, last, last);
      update();
    };
    const move = (e: PointerEvent) => {
      if (last === null || e.pointerId !== active) return;
      e.preventDefault();
      // Older browsers lack getCoalescedEvents; with it, a fast stroke keeps all its points.
      const coalesced = typeof e.getCoalescedEvents === 'function' ? e.getCoalescedEvents() : [];
      for (const ev of coalesced.length > 0 ? coalesced : [e]) {
        const p = point(ev);
        stroke(ctx, last, p);
        last = p;
      }
      update();
    };
    const end = (e: PointerEvent) => {
      if (e.pointerId !== active) return;
      last = null;
      active = null;
      update();
    };
    canvas.addEventListener('pointerdown', down);
    canvas.addEventListener('pointermove', move);
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
