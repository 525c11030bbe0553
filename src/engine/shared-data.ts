/**
 * Data sets in shared memory, so that every worker thread reads the same images without a copy
 * per worker: the arrays are copied once into `SharedArrayBuffer`s (cached per data object) and
 * handed to workers, which view them as an ordinary `MnistData`.
 */
import type { DataSet, MnistData } from '../data/mnist';

/** A `DataSet` whose arrays live in shared memory (what is posted to a worker). */
export interface SharedDataSet {
  images: Float32Array;
  labels: Uint8Array;
  count: number;
  imageSize: number;
  numClasses: number;
}

export interface SharedMnist {
  train: SharedDataSet;
  validation: SharedDataSet;
  test: SharedDataSet;
  description: string;
}

function shareArray<T extends Float32Array | Uint8Array>(array: T, make: (buffer: SharedArrayBuffer) => T): T {
  if (array.buffer instanceof SharedArrayBuffer) return array;
  const copy = make(new SharedArrayBuffer(array.byteLength));
  copy.set(array);
  return copy;
}

function shareSet(set: DataSet): SharedDataSet {
  return {
    images: shareArray(set.images, (b) => new Float32Array(b)),
    labels: shareArray(set.labels, (b) => new Uint8Array(b)),
    count: set.count,
    imageSize: set.imageSize,
    numClasses: set.numClasses,
  };
}

// One shared copy per data object: a sweep and the split step of the same data reuse it.
const cache = new WeakMap<MnistData, SharedMnist>();

/** The data in shared memory (copied on first use, then reused). */
export function shareMnist(data: MnistData): SharedMnist {
  let shared = cache.get(data);
  if (shared === undefined) {
    shared = {
      train: shareSet(data.train),
      validation: shareSet(data.validation),
      test: shareSet(data.test),
      description: data.description,
    };
    cache.set(data, shared);
  }
  return shared;
}

/** A worker's view of shared data: an `MnistData` over the same memory. */
export function mnistFromShared(shared: SharedMnist): MnistData {
  return { train: shared.train, validation: shared.validation, test: shared.test, description: shared.description };
}
