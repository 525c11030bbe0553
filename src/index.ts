/**
 * The MNIST tutorial on TensorFlow.js: data, the `inference` network, training, histories,
 * checkpoints and charts.
 */
export * from './backend';
export * from './charts';
export * from './checkpoint';
export * from './config';
export * from './data/idx';
export * from './data/mnist';
export * from './digit-preprocess';
export * from './draw/quantize';
export { drawDigitHtml, encodeQuantized, DRAW_CLASS, DRAW_NOTE_CLASS } from './draw/widget';
export * from './history';
export * from './io';
export * from './model';
export * from './notebook';
export * from './predict';
export * from './random';
export * from './runs';
export * from './train';
export * from './parallel';
export { lossCrossover, l2Term, l2Path, pairEvaluations, summarizePairs, type LossCrossover, type L2Path, type PairedEvaluation, type PairSummary } from './dynamics';
export { displayPath } from './display-path';
export * from './ablation';
