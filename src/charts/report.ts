/**
 * A run's report: one self-contained HTML page with every chart of the run, its summary and its
 * settings, plotly.js inlined once (about 5 MB in all, where a page per chart repeats it). It
 * opens offline, from a file.
 */
import { join } from 'node:path';
import { ensureWritableDir, writeFileAtomic } from '../util/io';
import { formatSummary } from '../train/messages';
import { CHART_FORMATS, exportRunCharts, RUN_CHART_FILES, type ChartFormat, type RunChartsOptions } from './export';
import { escapeHtml, jsonForScript, PLOT_CONFIG, plotlyPageHtml } from './html';
import { allRunFigures, resolveRuns, type Run, type RunFigures } from './figures';

/** The report's file name in a run folder. */
export const REPORT_FILE = 'report.html';

/** The class of each chart's element in the report. */
export const REPORT_CHART_CLASS = 'report-chart';

/** Options of `runReportHtml`. */
export interface ReportOptions {
  /** The page title; default "MNIST run" and the run's name when it has one. */
  title?: string;
  /** Add the tutorial's reported accuracy to the accuracy chart. */
  reference?: boolean;
  /** Smoothing weight in [0, 1) of the loss and gradient charts (see `FigureOptions.smoothing`). */
  smoothing?: number;
}

/** The report page of a run: summary, every chart (interactive), settings. */
export function runReportHtml(run: Run, options: ReportOptions = {}): string {
  const [{ name, history }] = resolveRuns(run, 'runReportHtml');
  const figures = allRunFigures(run, { reference: options.reference, smoothing: options.smoothing });
  const title = options.title ?? ('name' in run ? `MNIST run: ${name}` : 'MNIST run');
  const charts = (Object.entries(RUN_CHART_FILES) as [keyof RunFigures, string][]).map(([key, id]) => ({
    id,
    figure: figures[key],
  }));
  const settings = Object.entries(history.config)
    .map(([field, value]) => `<tr><th>${escapeHtml(field)}</th><td>${escapeHtml(String(value))}</td></tr>`)
    .join('\n');
  const style = `
body { font-family: system-ui, sans-serif; margin: 1.5em auto; max-width: 1000px; padding: 0 1em; }
.${REPORT_CHART_CLASS} { width: 100%; min-height: 450px; margin: 1em 0; }
table { border-collapse: collapse; } th, td { padding: 2px 10px; text-align: left; font-weight: normal; } th { color: #555; }
`;
  return plotlyPageHtml(
    title,
    style,
    `<h1>${escapeHtml(title)}</h1>
<p>${escapeHtml(formatSummary(history))}</p>
<p>Backend ${escapeHtml(history.backend)}; data: ${escapeHtml(history.data)}; started ${escapeHtml(history.startedAt)}.</p>
${charts.map(({ id }) => `<div class="${REPORT_CHART_CLASS}" id="${id}"></div>`).join('\n')}
<h2>Settings</h2>
<table>
${settings}
</table>
<script>
(function () {
  var charts = ${jsonForScript(charts)};
  charts.forEach(function (chart) {
    Plotly.newPlot(document.getElementById(chart.id), chart.figure.data, chart.figure.layout, ${JSON.stringify(PLOT_CONFIG)});
  });
})();
</script>`,
  );
}

/** Options of `exportRunReport`: the report's, and how its chart images are written. */
export interface RunReportOptions extends ReportOptions, Omit<RunChartsOptions, 'formats'> {
  /** Image formats written beside the report; default svg and png ([]: the report only). */
  images?: readonly Exclude<ChartFormat, 'html'>[];
}

/**
 * Writes `report.html` into `dir` (created if missing), and each chart as an image in the
 * formats of `images` (rendered by Chromium), plus metrics.csv and history.json unless
 * `data: false`. Returns the written paths, the report first. The report is written before the
 * images, so that it is there even when no browser is.
 */
export async function exportRunReport(dir: string, run: Run, options: RunReportOptions = {}): Promise<string[]> {
  const images = options.images ?? ['svg', 'png'];
  for (const format of images) {
    if (!CHART_FORMATS.includes(format) || (format as ChartFormat) === 'html')
      throw new Error(`exportRunReport: unknown image format ${JSON.stringify(format)}; use svg, png or json`);
  }
  const html = runReportHtml(run, options);
  await ensureWritableDir(dir);
  const report = join(dir, REPORT_FILE);
  await writeFileAtomic(report, html);
  return [report, ...(await exportRunCharts(dir, run, { ...options, formats: images }))];
}
