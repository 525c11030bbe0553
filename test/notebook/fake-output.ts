/** A notebook output that records what a notebook would receive, and what to look for in chart outputs. */
import type { SvgRenderer } from '../../src/notebook/display';
import { FALLBACK_CLASS } from '../../src/notebook/chart-html';
import type { DisplaySlot, NotebookOutput } from '../../src/notebook/kernel-output';

export const FAKE_LIBRARY = '/* FAKE PLOTLY LIBRARY */ window.Plotly = window.Plotly || {};';
export const FAKE_SVG =
  '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>';
export const DEFINE_HIDE = 'window.define = undefined;';
export const PLOTLY_BANNER = '* plotly.js v';
export const count = (text: string, part: string) => text.split(part).length - 1;
export const stripScripts = (html: string) => html.replace(/<script>[\s\S]*?<\/script>/g, '');

/** Records what a notebook would receive. */
export function fakeOutput() {
  const outputs: string[] = [];
  const notes: string[] = [];
  const slots: string[][] = [];
  const output: NotebookOutput = {
    html: (html) => outputs.push(html),
    newDisplay: (): DisplaySlot => {
      const writes: string[] = [];
      slots.push(writes);
      return { html: (html) => writes.push(html) };
    },
    note: (line) => notes.push(line),
  };
  return { output, outputs, notes, slots };
}

export const fakeRenderer: SvgRenderer = async (figures) => figures.map(() => FAKE_SVG);

export function fallbackSvgs(html: string): string[] {
  const images = [
    ...html.matchAll(
      new RegExp(`<img class="${FALLBACK_CLASS}"[^>]* src="data:image/svg\\+xml;base64,([A-Za-z0-9+/=]+)">`, 'g'),
    ),
  ];
  return images.map((m) => Buffer.from(m[1], 'base64').toString('utf8'));
}
