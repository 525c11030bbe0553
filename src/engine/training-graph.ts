/**
 * The tutorial's TensorFlow 1 graph, node by node: its variables and their moving averages, the
 * training step (`train_op`: forward pass, mean sparse softmax cross-entropy, the hand-derived
 * gradients with the L2 term, gradient descent, then the moving-average update), the evaluated
 * model's logits, and the nodes that set and read the variables. Native TensorFlow's session runs
 * a whole step in one call, updating the variables in place with its fused kernels, as the
 * tutorial's `sess.run(train_op, feed_dict=...)` does.
 */
import type { TrainingConfig } from '../core/config';
import { PARAM_NAMES, paramShapes, type ParamName } from '../core/model';
import { DT, GraphDefBuilder, type Attr } from './graph-def';

/** The graph's sizes and constants, from a two-layer `TrainingConfig` (the divergence threshold comes apart). */
export type GraphConfig = Pick<
  TrainingConfig,
  'inputNode' | 'layer1Node' | 'outputNode' | 'batchSize' | 'activation' | 'regularizationRate' | 'useMovingAverage'
>;

/** The nodes fed and fetched by the engine that runs the graph. */
export const NODE = {
  /** Fed: a batch of images, `[batchSize, inputNode]`. */
  images: 'x:0',
  /** Fed: their class indices (int32), `[batchSize]`. */
  labels: 'y_:0',
  /** Fed: this step's learning rate (scalar). */
  learningRate: 'learning_rate:0',
  /** Fed: `1 - d`, the moving average's weight of the new value at this step (scalar). */
  averageWeight: 'moving_average_weight:0',
  /**
   * Fetched to run a step: output 0 is the batch's mean cross-entropy, output 1 is 1 when the
   * step was applied and 0 when it was not (the loss was not finite or exceeded the threshold).
   */
  crossEntropy: 'train_op/cross_entropy_mean:0',
  applied: 'train_op/cross_entropy_mean:1',
  /** Fetched with a step to record it: the L2 term, then the sum of |gradient| of each parameter. */
  metrics: 'metrics:0',
  /** Fed: images to evaluate, `[rows, inputNode]`. */
  evalImages: 'evaluate/x:0',
  /** Fetched: their logits under the evaluated model (the moving averages, or the live parameters). */
  evalLogits: 'evaluate/logits:0',
  /** Fetched after feeding every `assign` node: sets the variables. */
  assigned: 'assign/done:0',
} as const;

/** A variable of the graph: a parameter, or its moving average. */
export interface GraphVariable {
  param: ParamName;
  average: boolean;
  shape: number[];
  /** The node fed with its new value by the `assigned` fetch. */
  assign: string;
  /** The node fetched to read it. */
  read: string;
}

/** The graph of `config`: a builder ready to save, and its variables in the tutorial's order. */
export interface TrainingGraph {
  graph: GraphDefBuilder;
  variables: GraphVariable[];
}

const float: Attr = { type: DT.float };

/**
 * Builds the tutorial's graph for a two-layer `config`. A step whose cross-entropy is not finite
 * or exceeds `divergenceThreshold` changes no variable (a `Switch` on the learning rate gates the
 * updates, as `tf.cond` would).
 */
export function buildTrainingGraph(config: GraphConfig, divergenceThreshold: number): TrainingGraph {
  if (config.layer1Node === 0) throw new Error('the native graph is built for the two-layer network (layer1Node > 0)');
  const g = new GraphDefBuilder();
  const shapes = paramShapes(config as TrainingConfig) as Record<ParamName, number[]>;
  const rate = config.regularizationRate;
  const batch = config.batchSize;

  // Variables: the parameters and, under the same name with the suffix TensorFlow gives them, their moving averages.
  const variables: GraphVariable[] = [];
  const handle = (param: ParamName, average: boolean) => (average ? `${param}/ExponentialMovingAverage` : param);
  for (const average of config.useMovingAverage ? [false, true] : [false]) {
    for (const param of PARAM_NAMES) {
      const name = handle(param, average);
      const shape = shapes[param];
      g.op(name, 'VarHandleOp', [], { dtype: float, shape: { shape }, shared_name: { s: name }, container: { s: '' } });
      variables.push({ param, average, shape, assign: `assign/${name}:0`, read: `read/${name}:0` });
    }
  }

  // Setting and reading them.
  const assigns = variables.map((v) => {
    const name = handle(v.param, v.average);
    g.placeholder(`assign/${name}`, DT.float, v.shape);
    return `^${g.op(`assign/${name}/op`, 'AssignVariableOp', [name, `assign/${name}`], { dtype: float })}`;
  });
  g.intConst('assign/count', [assigns.length]);
  g.op('assign/done', 'Identity', ['assign/count', ...assigns], { T: { type: DT.int32 } });
  for (const v of variables) {
    const name = handle(v.param, v.average);
    g.op(`read/${name}`, 'ReadVariableOp', [name], { dtype: float });
  }

  // The network (`inference`) on the parameters read by `read(param)`; returns the hidden layer and the logits.
  const inference = (scope: string, input: string, read: (param: ParamName) => string) => {
    g.op(`${scope}/layer1/matmul`, 'MatMul', [input, read('weights1')], { T: float });
    g.op(`${scope}/layer1/add`, 'BiasAdd', [`${scope}/layer1/matmul`, read('biases1')], { T: float });
    const hidden =
      config.activation === 'relu'
        ? g.op(`${scope}/layer1/relu`, 'Relu', [`${scope}/layer1/add`], { T: float })
        : `${scope}/layer1/add`;
    g.op(`${scope}/layer2/matmul`, 'MatMul', [hidden, read('weights2')], { T: float });
    const logits = g.op(`${scope}/logits`, 'BiasAdd', [`${scope}/layer2/matmul`, read('biases2')], { T: float });
    return { hidden, logits };
  };

  // The training step.
  g.placeholder('x', DT.float, [batch, config.inputNode]);
  g.placeholder('y_', DT.int32, [batch]);
  g.placeholder('learning_rate', DT.float, []);
  if (config.useMovingAverage) g.placeholder('moving_average_weight', DT.float, []);
  const live = (param: ParamName) => g.op(`train/read/${param}`, 'ReadVariableOp', [param], { dtype: float });
  const reads = Object.fromEntries(PARAM_NAMES.map((param) => [param, live(param)])) as Record<ParamName, string>;
  const { hidden, logits } = inference('train', 'x', (param) => reads[param]);
  g.op('cross_entropy', 'SparseSoftmaxCrossEntropyWithLogits', [logits, 'y_'], {
    T: float,
    Tlabels: { type: DT.int32 },
  });
  g.intConst('rows_axis', [0], [1]);
  g.op('cross_entropy_mean', 'Mean', ['cross_entropy:0', 'rows_axis'], { T: float, Tidx: { type: DT.int32 } });

  // Gradients of the total loss, by hand: the mean's 1/batch, the products' transposes, the ReLU's mask, L2's rate * W.
  g.floatConst('batch_size', [batch]);
  g.op('grad/logits', 'RealDiv', ['cross_entropy:1', 'batch_size'], { T: float });
  const withL2 = (param: 'weights1' | 'weights2', product: string) => {
    if (rate === 0) return product;
    g.floatConst(`grad/${param}/rate`, [rate]);
    g.op(`grad/${param}/l2`, 'Mul', [reads[param], `grad/${param}/rate`], { T: float });
    return g.op(`grad/${param}`, 'AddV2', [product, `grad/${param}/l2`], { T: float });
  };
  const sumRows = (name: string, input: string) =>
    g.op(name, 'Sum', [input, 'rows_axis'], { T: float, Tidx: { type: DT.int32 } });
  g.op('grad/weights2/product', 'MatMul', [hidden, 'grad/logits'], { T: float, transpose_a: { b: true } });
  g.op('grad/hidden', 'MatMul', ['grad/logits', reads.weights2], { T: float, transpose_b: { b: true } });
  const dLayer1 =
    config.activation === 'relu'
      ? g.op('grad/layer1', 'ReluGrad', ['grad/hidden', hidden], { T: float })
      : 'grad/hidden';
  g.op('grad/weights1/product', 'MatMul', ['x', dLayer1], { T: float, transpose_a: { b: true } });
  const grads: Record<ParamName, string> = {
    weights1: withL2('weights1', 'grad/weights1/product'),
    biases1: sumRows('grad/biases1', dLayer1),
    weights2: withL2('weights2', 'grad/weights2/product'),
    biases2: sumRows('grad/biases2', 'grad/logits'),
  };

  // The gate: the updates run only when the loss is finite and within the threshold.
  g.op('loss_finite', 'IsFinite', ['cross_entropy_mean'], { T: float });
  g.floatConst('divergence_threshold', [divergenceThreshold]);
  g.op('loss_within', 'LessEqual', ['cross_entropy_mean', 'divergence_threshold'], { T: float });
  g.op('step_ok', 'LogicalAnd', ['loss_finite', 'loss_within']);
  g.op('gated_learning_rate', 'Switch', ['learning_rate', 'step_ok'], { T: float });

  // Gradient descent (`train_step`), in place.
  const applied = PARAM_NAMES.map(
    (param) =>
      `^${g.op(`train_step/${param}`, 'ResourceApplyGradientDescent', [param, 'gated_learning_rate:1', grads[param]], { T: float })}`,
  );
  g.op('train_step', 'NoOp', applied);

  // The moving average (`variables_averages_op`) of the updated parameters: shadow += (1 - d) (variable - shadow).
  let done = 'train_step';
  if (config.useMovingAverage) {
    const averaged = PARAM_NAMES.map((param) => {
      const shadow = handle(param, true);
      const scope = `moving_average/${param}`;
      g.op(`${scope}/variable`, 'ReadVariableOp', [param, '^train_step'], { dtype: float });
      g.op(`${scope}/shadow`, 'ReadVariableOp', [shadow, '^train_step'], { dtype: float });
      g.op(`${scope}/difference`, 'Sub', [`${scope}/variable`, `${scope}/shadow`], { T: float });
      g.op(`${scope}/increment`, 'Mul', [`${scope}/difference`, 'moving_average_weight'], { T: float });
      return `^${g.op(`${scope}/update`, 'AssignAddVariableOp', [shadow, `${scope}/increment`], { dtype: float })}`;
    });
    done = g.op('variables_averages_op', 'NoOp', averaged);
  }

  // `train_op`: the loss, once both updates ran, or at once when the gate closed (a `Merge` of the two branches).
  g.op('train_op/gate', 'Switch', ['cross_entropy_mean', 'step_ok'], { T: float });
  g.op('train_op/done', 'Identity', ['train_op/gate:1', `^${done}`], { T: float });
  g.op('train_op/cross_entropy_mean', 'Merge', ['train_op/gate:0', 'train_op/done'], { T: float, N: { i: 2 } });

  // What a recorded step reports: the L2 term (of the parameters before the step) and each gradient's sum of |g|.
  g.op('metrics/l2/weights1', 'L2Loss', [reads.weights1], { T: float });
  g.op('metrics/l2/weights2', 'L2Loss', [reads.weights2], { T: float });
  g.op('metrics/l2/sum', 'AddV2', ['metrics/l2/weights1', 'metrics/l2/weights2'], { T: float });
  g.floatConst('metrics/l2/rate', [rate]);
  g.op('metrics/l2', 'Mul', ['metrics/l2/sum', 'metrics/l2/rate'], { T: float });
  const absSums = PARAM_NAMES.map((param) => {
    g.op(`metrics/abs/${param}`, 'Abs', [grads[param]], { T: float });
    g.intConst(
      `metrics/axes/${param}`,
      shapes[param].map((_, axis) => axis),
      [shapes[param].length],
    );
    return g.op(`metrics/abs_sum/${param}`, 'Sum', [`metrics/abs/${param}`, `metrics/axes/${param}`], {
      T: float,
      Tidx: { type: DT.int32 },
    });
  });
  g.op('metrics', 'Pack', ['metrics/l2', ...absSums], { T: float, N: { i: 1 + absSums.length }, axis: { i: 0 } });

  // The evaluated model (`average_y`): the moving averages when used, else the live parameters.
  g.placeholder('evaluate/x', DT.float, [-1, config.inputNode]);
  const evaluated = (param: ParamName) =>
    g.op(`evaluate/read/${param}`, 'ReadVariableOp', [handle(param, config.useMovingAverage)], { dtype: float });
  inference('evaluate', 'evaluate/x', evaluated);

  return { graph: g, variables };
}
