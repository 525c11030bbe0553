/**
 * `drawDigit(model)`: a drawing pad in a notebook output. The reader draws a digit with the
 * mouse, a finger or a pen; the page turns it into the 28 x 28 input exactly as
 * `preprocessDigitImage` does (the same compiled functions, embedded), runs the network on it
 * (8-bit weights embedded in the output, see `quantize.ts`) and shows the ten probabilities,
 * all while drawing and without the kernel: a saved, trusted notebook keeps working.
 *
 * Where scripts do not run (an untrusted notebook, GitHub's viewer) the output shows a note.
 * Like the charts (`charts/display.ts`), the script is plain inline JavaScript: no require.js.
 */
import { randomBytes } from 'node:crypto';
import type { Activation } from '../core/config';
import { digitPreprocessSource } from '../predict/digit-preprocess';
import { jsonForScript } from '../charts/html';
import { tslabOutput, type NotebookOutput } from './kernel-output';
import type { Params } from '../core/model';
import type { RunModel } from '../store/run-model';
import { quantizedForwardSource, quantizeModel, type QuantizedModel } from '../predict/quantize';

/** The class of the widget's root element. */
export const DRAW_CLASS = 'mnist-draw';
/** The class of the note shown where scripts do not run. */
export const DRAW_NOTE_CLASS = 'mnist-draw-note';

/** Options of `drawDigit`. */
export interface DrawDigitOptions {
  /** The hidden layer's activation when `model` is bare `Params` (default relu). */
  activation?: Activation;
  /** Side of the drawing canvas in pixels (default 280: ten canvas pixels per MNIST pixel). */
  canvasSize?: number;
  /** Brush diameter in canvas pixels (default: 0.08 of the side, MNIST's stroke width relative to its 20-pixel box). */
  brushSize?: number;
  /** Element id; default: a fresh one. */
  id?: string;
}

/** What `drawDigit` displayed: the pad's element id and its HTML. */
export interface DrawDigitOutput {
  /** The root element's id. */
  id: string;
  /** The output's HTML. */
  html: string;
  /** Bytes the output adds to the notebook file (its HTML, UTF-8). */
  bytes: number;
}

function base64(array: Int8Array | Float32Array): string {
  return Buffer.from(array.buffer, array.byteOffset, array.byteLength).toString('base64');
}

/** The quantised network as JSON-able text fields (base64 of the little-endian arrays). */
export function encodeQuantized(q: QuantizedModel): {
  activation: Activation;
  layers: { rows: number; cols: number; values: string; scales: string; biases: string }[];
} {
  return {
    activation: q.activation,
    layers: q.layers.map((l) => ({
      rows: l.rows,
      cols: l.cols,
      values: base64(l.values),
      scales: base64(l.scales),
      biases: base64(l.biases),
    })),
  };
}

const NOTE =
  'Drawing pad: it runs as a script in the notebook, and scripts do not run here (the notebook is not trusted, ' +
  'or this viewer runs none). Run the cell, or trust the notebook (JupyterLab: command palette, Trust Notebook; ' +
  'classic Notebook: File, Trust Notebook) and reopen it, to draw a digit.';

/** The page's code: builds the pad inside the root element, once it is in the page. */
function pageScript(id: string, q: QuantizedModel, canvasSize: number, brushSize: number): string {
  return `<script>
(function () {
  "use strict";
  var id = ${jsonForScript(id)}, encoded = ${jsonForScript(encodeQuantized(q))};
  var SIZE = ${canvasSize}, BRUSH = ${brushSize}, INK_THRESHOLD = 0.1;
${digitPreprocessSource()}
${quantizedForwardSource()}
  function bytes(text) {
    var raw = atob(text), out = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
    return out.buffer;
  }
  function decode() {
    return {
      activation: encoded.activation,
      layers: encoded.layers.map(function (l) {
        return dequantizeLayer({ rows: l.rows, cols: l.cols, values: new Int8Array(bytes(l.values)), scales: new Float32Array(bytes(l.scales)), biases: new Float32Array(bytes(l.biases)) });
      })
    };
  }
  function el(tag, style, text) {
    var e = document.createElement(tag);
    if (style) e.style.cssText = style;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function build(root) {
    if (root.getAttribute("data-ready")) return;
    root.setAttribute("data-ready", "1");
    var model = decode();
    var note = root.querySelector(".${DRAW_NOTE_CLASS}");
    if (note) note.parentNode.removeChild(note);
    var row = el("div", "display:flex;flex-wrap:wrap;gap:16px;align-items:flex-start;font-family:sans-serif;font-size:13px;color:var(--jp-ui-font-color1, #222)");
    var left = el("div", "display:flex;flex-direction:column;gap:6px");
    left.appendChild(el("div", "", "Draw a digit:"));
    var canvas = el("canvas", "width:" + SIZE + "px;height:" + SIZE + "px;border:1px solid #999;border-radius:4px;cursor:crosshair;touch-action:none;background:#fff");
    canvas.width = SIZE;
    canvas.height = SIZE;
    canvas.className = "mnist-draw-canvas";
    left.appendChild(canvas);
    var clear = el("button", "align-self:flex-start;padding:2px 12px", "Clear");
    clear.className = "mnist-draw-clear";
    left.appendChild(clear);
    var middle = el("div", "display:flex;flex-direction:column;gap:6px");
    middle.appendChild(el("div", "", "What the network sees (28 x 28):"));
    var preview = el("canvas", "width:140px;height:140px;image-rendering:pixelated;border:1px solid #999;background:#000");
    preview.width = 28;
    preview.height = 28;
    preview.className = "mnist-draw-preview";
    middle.appendChild(preview);
    var answer = el("div", "font-size:15px;font-weight:bold;min-height:20px");
    answer.className = "mnist-draw-answer";
    middle.appendChild(answer);
    var right = el("div", "display:flex;flex-direction:column;gap:3px;min-width:240px");
    right.appendChild(el("div", "", "Probabilities:"));
    var bars = [];
    for (var c = 0; c < 10; c++) {
      var line = el("div", "display:flex;align-items:center;gap:6px");
      line.appendChild(el("span", "width:10px;text-align:right;font-family:monospace", String(c)));
      var track = el("div", "flex:1;height:14px;background:var(--jp-layout-color2, #eee);border-radius:2px;overflow:hidden");
      var bar = el("div", "height:100%;width:0;background:#7aa6d6");
      track.appendChild(bar);
      line.appendChild(track);
      var label = el("span", "width:56px;text-align:right;font-family:monospace", "");
      line.appendChild(label);
      right.appendChild(line);
      bars.push({ bar: bar, label: label });
    }
    row.appendChild(left);
    row.appendChild(middle);
    row.appendChild(right);
    root.appendChild(row);

    var ctx = canvas.getContext("2d", { willReadFrequently: true });
    var pctx = preview.getContext("2d");
    function blank() {
      ctx.fillStyle = "#fff";
      ctx.fillRect(0, 0, SIZE, SIZE);
    }
    var state = { pixels: null, probabilities: null, predicted: null, problem: null, updates: 0 };
    root.mnistDraw = state;
    function show() {
      state.updates += 1;
      var result = preprocessRgba(ctx.getImageData(0, 0, SIZE, SIZE).data, SIZE, SIZE, INK_THRESHOLD);
      var image = pctx.createImageData(28, 28);
      if (result.problem !== undefined) {
        state.pixels = null; state.probabilities = null; state.predicted = null; state.problem = result.problem;
        root.removeAttribute("data-predicted");
        for (var k = 0; k < 784; k++) image.data[4 * k + 3] = 255;
        pctx.putImageData(image, 0, 0);
        answer.textContent = "";
        bars.forEach(function (b) { b.bar.style.width = "0"; b.label.textContent = ""; });
        return;
      }
      var probabilities = quantizedForward(model, result.pixels);
      var best = 0;
      for (var c = 1; c < 10; c++) if (probabilities[c] > probabilities[best]) best = c;
      for (var i = 0; i < 784; i++) {
        var v = Math.round(result.pixels[i] * 255);
        image.data[4 * i] = v; image.data[4 * i + 1] = v; image.data[4 * i + 2] = v; image.data[4 * i + 3] = 255;
      }
      pctx.putImageData(image, 0, 0);
      bars.forEach(function (b, c) {
        b.bar.style.width = (probabilities[c] * 100).toFixed(1) + "%";
        b.bar.style.background = c === best ? "#1f5fa8" : "#7aa6d6";
        b.label.textContent = (probabilities[c] * 100).toFixed(1) + " %";
      });
      answer.textContent = "The network reads: " + best + " (" + (probabilities[best] * 100).toFixed(1) + " %)";
      state.pixels = Array.from(result.pixels); state.probabilities = probabilities; state.predicted = best; state.problem = null;
      root.setAttribute("data-predicted", String(best));
    }
    var pending = false;
    function update() {
      if (pending) return;
      pending = true;
      requestAnimationFrame(function () { pending = false; show(); });
    }
    // One pointer draws at a time: a second finger or a palm on the screen is ignored.
    var last = null, active = null;
    function point(e) {
      var r = canvas.getBoundingClientRect();
      return { x: (e.clientX - r.left) * SIZE / r.width, y: (e.clientY - r.top) * SIZE / r.height };
    }
    function stroke(from, to) {
      ctx.strokeStyle = "#000";
      ctx.lineWidth = BRUSH;
      ctx.lineCap = "round";
      ctx.lineJoin = "round";
      // A soft edge, like a pen scanned and anti-aliased.
      ctx.shadowColor = "rgba(0,0,0,0.6)";
      ctx.shadowBlur = BRUSH / 4;
      ctx.beginPath();
      ctx.moveTo(from.x, from.y);
      ctx.lineTo(to.x, to.y);
      ctx.stroke();
    }
    canvas.addEventListener("pointerdown", function (e) {
      if ((e.button !== 0 && e.pointerType === "mouse") || active !== null) return;
      e.preventDefault();
      active = e.pointerId;
      // Keep the stroke when the pointer leaves the canvas; a pointer the browser no longer tracks cannot be captured.
      try { canvas.setPointerCapture(e.pointerId); } catch (error) { /* draw without capture */ }
      last = point(e);
      stroke(last, last);
      update();
    });
    canvas.addEventListener("pointermove", function (e) {
      if (last === null || e.pointerId !== active) return;
      e.preventDefault();
      var events = e.getCoalescedEvents ? e.getCoalescedEvents() : [];
      if (events.length === 0) events = [e];
      events.forEach(function (ev) { var p = point(ev); stroke(last, p); last = p; });
      update();
    });
    function end(e) {
      if (e.pointerId !== active) return;
      last = null;
      active = null;
      update();
    }
    canvas.addEventListener("pointerup", end);
    canvas.addEventListener("pointercancel", end);
    clear.addEventListener("click", function () { blank(); update(); });
    blank();
    show();
  }
  var tries = 0;
  function start() {
    var root = document.getElementById(id);
    if (!root) {
      tries += 1;
      if (tries < 700) setTimeout(start, tries < 100 ? 100 : 1000);
      return;
    }
    build(root);
  }
  start();
})();
</script>`;
}

/** The widget's HTML for a quantised network (pure). */
export function drawDigitHtml(q: QuantizedModel, options: Omit<DrawDigitOptions, 'activation'> = {}): string {
  const canvasSize = options.canvasSize ?? 280;
  if (!Number.isInteger(canvasSize) || canvasSize < 56 || canvasSize > 1000)
    throw new RangeError(`drawDigit: canvasSize must be a whole number of pixels 56-1000, got ${canvasSize}`);
  const brushSize = options.brushSize ?? Math.round(canvasSize * 0.08);
  if (!(Number.isFinite(brushSize) && brushSize >= 1 && brushSize <= canvasSize / 2))
    throw new RangeError(`drawDigit: brushSize must be 1-${canvasSize / 2} pixels, got ${brushSize}`);
  const inputs = q.layers[0]?.rows;
  if (inputs !== 784 || q.layers.at(-1)?.cols !== 10)
    throw new Error(
      `drawDigit: the network must take 784 pixels and give 10 classes, got ${inputs} inputs and ${q.layers.at(-1)?.cols} outputs`,
    );
  const id = options.id ?? `mnist-draw-${randomBytes(6).toString('hex')}`;
  if (!/^[A-Za-z][\w-]*$/.test(id)) throw new Error(`drawDigit: "${id}" is not a usable element id`);
  return [
    `<div id="${id}" class="${DRAW_CLASS}">`,
    `<div class="${DRAW_NOTE_CLASS}" style="font-family:sans-serif;font-size:13px;padding:6px 10px;border-left:3px solid #c90;background:#fff8e5">${NOTE}</div>`,
    '</div>',
    pageScript(id, q, canvasSize, brushSize),
  ].join('\n');
}

/**
 * Shows a drawing pad for `model` (a run's evaluated parameters: the moving averages when it
 * used them, or bare `Params`) in the notebook cell's output.
 */
export function drawDigit(
  model: Params | RunModel,
  options: DrawDigitOptions & { output?: NotebookOutput } = {},
): DrawDigitOutput {
  const id = options.id ?? `mnist-draw-${randomBytes(6).toString('hex')}`;
  const html = drawDigitHtml(quantizeModel(model, options.activation), { ...options, id });
  (options.output ?? tslabOutput()).html(html);
  return { id, html, bytes: Buffer.byteLength(html, 'utf8') };
}
