/**
 * Runs in the notebook's page (see README.md): draws a chart output's figures once its element
 * is in the page and plotly.js has loaded.
 */
import type { PlotlyFigure } from '../../charts/figures';

/** plotly.js as the page has it once loaded (`chart-html.ts` inlines it). */
interface PlotlyInPage {
  newPlot(root: HTMLElement, data: unknown, layout: unknown, config: unknown): Promise<unknown>;
}

declare global {
  interface Window {
    Plotly?: PlotlyInPage;
  }
}

/** What `drawCharts` is given, as JSON. */
export interface DrawChartsSettings {
  /** The id of the output's element, whose `[data-chart-slot]` children take the figures in order. */
  id: string;
  figures: readonly PlotlyFigure[];
  /** Plotly's chart options. */
  config: object;
  /** The class of the static fallback image in a slot. */
  fallbackClass: string;
}

/**
 * Draws each figure into its slot, replacing the slot's fallback image once the chart is drawn
 * (and keeping the image if it fails). It waits, up to about ten minutes, for the element and for
 * `window.Plotly`: outputs can be attached to the page after their scripts ran, and plotly.js may
 * still be loading. Without plotly.js the images stay.
 */
export function drawCharts(settings: DrawChartsSettings): void {
  const { id, figures, config, fallbackClass } = settings;
  let tries = 0;
  const draw = () => {
    const root = document.getElementById(id);
    if (!root || !window.Plotly) {
      tries += 1;
      if (tries < 700) setTimeout(draw, tries < 100 ? 100 : 1000);
      return;
    }
    const slots = root.querySelectorAll('[data-chart-slot]');
    for (let i = 0; i < Math.min(figures.length, slots.length); i++) {
      const img = slots[i].querySelector<HTMLImageElement>(`img.${fallbackClass}`);
      const live = document.createElement('div');
      slots[i].appendChild(live);
      if (img) img.style.display = 'none';
      window.Plotly.newPlot(live, figures[i].data, figures[i].layout, config).then(
        () => img?.remove(),
        (error: unknown) => {
          live.remove();
          if (img) img.style.display = '';
          console.error('chart not drawn', error);
        },
      );
    }
  };
  draw();
}
