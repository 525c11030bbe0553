/**
 * Charts, the package's `mnist-tfjs-tutorial/charts` entry point: Plotly figures of training
 * histories and predictions (pure functions of plain data), and their export to files (HTML,
 * SVG, PNG, JSON). The notebooks show them with `mnist-tfjs-tutorial/notebook`.
 *
 * The list is what the notebooks use plus `accuracyFigure` and `exportFigure`, the run's main
 * chart and the way to save any figure (test/public-api.test.ts pins it).
 */
export { accuracyFigure, compareFigure, gradientFigure, learningRateFigure, lossFigure, type Figure } from './figures';
export { REPORTED_ACCURACY } from './reference';
export {
  confusionFigure,
  digitsFigure,
  perClassAccuracyFigure,
  preprocessingFigure,
  probabilitiesFigure,
} from './predictions';
export { exportFigure, exportRunCharts } from './export';
