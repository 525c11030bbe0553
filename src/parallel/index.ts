/** Every core at work: sweeps of runs on worker threads, and the training step split across threads. */
export * from './live';
export * from './shared-data';
export { SplitEngine, SplitStepError } from './split-engine';
export * from './summary';
export * from './sweep';
