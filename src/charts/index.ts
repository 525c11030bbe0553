/**
 * Charts, the package's `mnist-tfjs-tutorial/charts` entry point: Plotly figures of training
 * histories and predictions (pure functions of plain data), their display in a tslab notebook
 * (live while training), and export to files (HTML, SVG, PNG, JSON, a run's report).
 *
 * Every name here is a deliberate part of the public surface (test/public-api.test.ts pins the
 * list): add one only when users need it.
 */
export {
  METRICS,
  accuracyFigure,
  allRunFigures,
  compareFigure,
  gradientFigure,
  learningRateFigure,
  lossFigure,
  smooth,
  type AccuracyFigureOptions,
  type Axis,
  type Figure,
  type FigureOptions,
  type Layout,
  type Metric,
  type NamedRun,
  type Run,
  type RunFigures,
  type RunFiguresOptions,
  type Runs,
  type Trace,
} from './figures';
export { REPORTED_ACCURACY, type ReportedAccuracy } from './reference';
export {
  confusionFigure,
  digitsFigure,
  imagesFigure,
  perClassAccuracyFigure,
  preprocessingFigure,
  probabilitiesFigure,
  type PredictionFigure,
} from './predictions';
export {
  CHART_FORMATS,
  RUN_CHART_FILES,
  exportFigure,
  exportRunCharts,
  type ChartFormat,
  type ExportOptions,
  type RunChartsOptions,
} from './export';
export { figureToHtml, type HtmlOptions } from './html';
export { ChromiumNotFoundError, findChromium, type ImageSize } from './chromium';
export { REPORT_FILE, exportRunReport, runReportHtml, type ReportOptions, type RunReportOptions } from './report';
