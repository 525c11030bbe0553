/**
 * Charts of training histories: Plotly figures (pure), files (HTML, SVG, PNG, JSON) and
 * notebook display for the tslab kernel.
 */
export * from './figures';
export * from './reference';
export * from './export';
export * from './display';
export * from './predictions';
