/**
 * A TensorFlow graph written node by node, as TensorFlow 1's Python API writes one, and saved as a
 * SavedModel (`saved_model.pb`) that native TensorFlow can load into a session. The messages are
 * the protocol buffers that tfjs-node bundles to read SavedModels (google-protobuf's generated
 * classes); this module only names what a graph needs of them.
 */

/**
 * Native TensorFlow cannot take the graph here: tfjs-node's protocol buffers are missing, the
 * SavedModel folder cannot be written, or the library refuses the graph. The engine that asked
 * for it can run op by op instead.
 */
export class NativeGraphError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NativeGraphError';
  }
}

/** TensorFlow's `DataType` numbers for the types the graphs here use. */
export const DT = { float: 1, int32: 3, bool: 10 } as const;

/** An attribute of a node: a type, a shape, a tensor, a string, a whole number, a flag or a float. */
export type Attr =
  | { type: number }
  | { shape: readonly number[] }
  | { floats: readonly number[]; dims: readonly number[] }
  | { ints: readonly number[]; dims: readonly number[] }
  | { s: string }
  | { i: number }
  | { b: boolean }
  | { f: number };

/** What this module uses of the generated messages (`proto.tensorflow.*` in tfjs-node's `api_pb`). */
interface Message {
  serializeBinary(): Uint8Array;
}
interface AttrValueMessage extends Message {
  setType(value: number): void;
  setShape(value: Message): void;
  setTensor(value: Message): void;
  setS(value: Uint8Array): void;
  setI(value: number): void;
  setB(value: boolean): void;
  setF(value: number): void;
}
interface DimMessage extends Message {
  setSize(value: number): void;
}
interface ShapeMessage extends Message {
  addDim(value: DimMessage): void;
}
interface TensorMessage extends Message {
  setDtype(value: number): void;
  setTensorShape(value: ShapeMessage): void;
  setFloatValList(values: number[]): void;
  setIntValList(values: number[]): void;
}
interface NodeMessage extends Message {
  setName(value: string): void;
  setOp(value: string): void;
  addInput(value: string): void;
  getAttrMap(): { set(key: string, value: AttrValueMessage): void };
}
interface GraphMessage extends Message {
  addNode(value: NodeMessage): void;
  setVersions(value: { setProducer(value: number): void } & Message): void;
}
interface MetaGraphMessage extends Message {
  setMetaInfoDef(value: { addTags(value: string): void } & Message): void;
  setGraphDef(value: GraphMessage): void;
}
interface ProtoMessages {
  AttrValue: new () => AttrValueMessage;
  TensorShape: (new () => ShapeMessage) & { Dim: new () => DimMessage };
  Tensor: new () => TensorMessage;
  NodeDef: new () => NodeMessage;
  GraphDef: new () => GraphMessage;
  VersionDef: new () => { setProducer(value: number): void } & Message;
  MetaGraphDef: (new () => MetaGraphMessage) & { MetaInfoDef: new () => { addTags(value: string): void } & Message };
  SavedModel: new () => { addMetaGraphs(value: MetaGraphMessage): void } & Message;
}

/** The packages whose bundled messages can write the graph: those that give the native backend. */
const PROTO_MODULES = ['@tensorflow/tfjs-node/dist/proto/api_pb', '@tensorflow/tfjs-node-gpu/dist/proto/api_pb'];

function protoMessages(): ProtoMessages {
  for (const name of PROTO_MODULES) {
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      return require(name) as ProtoMessages;
    } catch {
      // the other package, if any
    }
  }
  throw new NativeGraphError(`tfjs-node's protocol buffers are not there (${PROTO_MODULES.join(' or ')})`);
}

/**
 * The graph format's version that the nodes are written for (`GraphDef.versions.producer`): any
 * from TensorFlow 2 loads them, as every op and attribute used here is older than TensorFlow 2.
 */
const GRAPH_PRODUCER = 1087;

/** A graph under construction: `op` adds a node and returns its name, the input of later nodes. */
export class GraphDefBuilder {
  private readonly pb = protoMessages();
  private readonly graph = new this.pb.GraphDef();
  private readonly names = new Set<string>();

  constructor() {
    const versions = new this.pb.VersionDef();
    versions.setProducer(GRAPH_PRODUCER);
    this.graph.setVersions(versions);
  }

  /**
   * Adds the node `name` running `op` on `inputs` (`"node"` or `"node:k"` for an output, `"^node"`
   * to run after a node without taking its value). Returns `name`.
   */
  op(name: string, op: string, inputs: readonly string[], attrs: Readonly<Record<string, Attr>> = {}): string {
    if (this.names.has(name)) throw new Error(`graph: two nodes are named "${name}"`);
    for (const input of inputs) {
      const source = input.replace(/^\^/, '').replace(/:\d+$/, '');
      if (!this.names.has(source)) throw new Error(`graph: node "${name}" reads "${input}", which is not defined yet`);
    }
    this.names.add(name);
    const node = new this.pb.NodeDef();
    node.setName(name);
    node.setOp(op);
    for (const input of inputs) node.addInput(input);
    const map = node.getAttrMap();
    for (const [key, attr] of Object.entries(attrs)) map.set(key, this.attrValue(attr));
    this.graph.addNode(node);
    return name;
  }

  /** A constant float tensor (a scalar when `dims` is empty). */
  floatConst(name: string, values: readonly number[], dims: readonly number[] = []): string {
    return this.op(name, 'Const', [], { dtype: { type: DT.float }, value: { floats: values, dims } });
  }

  /** A constant int32 tensor (a scalar when `dims` is empty). */
  intConst(name: string, values: readonly number[], dims: readonly number[] = []): string {
    return this.op(name, 'Const', [], { dtype: { type: DT.int32 }, value: { ints: values, dims } });
  }

  /** An input fed at each run; -1 in `shape` is a size known only then. */
  placeholder(name: string, type: number, shape: readonly number[]): string {
    return this.op(name, 'Placeholder', [], { dtype: { type }, shape: { shape } });
  }

  /** A SavedModel holding this graph as its one meta graph, under `tag`: the bytes of `saved_model.pb`. */
  savedModel(tag: string): Uint8Array {
    const info = new this.pb.MetaGraphDef.MetaInfoDef();
    info.addTags(tag);
    const meta = new this.pb.MetaGraphDef();
    meta.setMetaInfoDef(info);
    meta.setGraphDef(this.graph);
    const model = new this.pb.SavedModel();
    model.addMetaGraphs(meta);
    return model.serializeBinary();
  }

  private shape(dims: readonly number[]): ShapeMessage {
    const shape = new this.pb.TensorShape();
    for (const size of dims) {
      const dim = new this.pb.TensorShape.Dim();
      dim.setSize(size);
      shape.addDim(dim);
    }
    return shape;
  }

  private attrValue(attr: Attr): AttrValueMessage {
    const value = new this.pb.AttrValue();
    if ('type' in attr) value.setType(attr.type);
    else if ('shape' in attr) value.setShape(this.shape(attr.shape));
    else if ('floats' in attr || 'ints' in attr) {
      const tensor = new this.pb.Tensor();
      tensor.setTensorShape(this.shape(attr.dims));
      if ('floats' in attr) {
        tensor.setDtype(DT.float);
        tensor.setFloatValList([...attr.floats]);
      } else {
        tensor.setDtype(DT.int32);
        tensor.setIntValList([...attr.ints]);
      }
      value.setTensor(tensor);
    } else if ('s' in attr) value.setS(new TextEncoder().encode(attr.s));
    else if ('i' in attr) value.setI(attr.i);
    else if ('b' in attr) value.setB(attr.b);
    else value.setF(attr.f);
    return value;
  }
}
