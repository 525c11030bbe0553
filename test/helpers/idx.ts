/** Small IDX files made in memory, for tests. */

/** An IDX file of unsigned bytes (magic 0x0801 for one dimension, 0x0803 for three). */
export function idxBytes(dims: number[], values: ArrayLike<number>): Uint8Array {
  const bytes = new Uint8Array(4 + 4 * dims.length + values.length);
  const view = new DataView(bytes.buffer);
  bytes[2] = 0x08;
  bytes[3] = dims.length;
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  bytes.set(values, 4 + 4 * dims.length);
  return bytes;
}

/** `count` 28 x 28 images with a fixed pattern, and labels cycling through the digits. */
export function mnistLikeFiles(trainCount: number, testCount: number) {
  const images = (n: number) =>
    idxBytes(
      [n, 28, 28],
      Array.from({ length: n * 784 }, (_, i) => (i * 7) % 256),
    );
  const labels = (n: number) =>
    idxBytes(
      [n],
      Array.from({ length: n }, (_, i) => i % 10),
    );
  return {
    trainImages: images(trainCount),
    trainLabels: labels(trainCount),
    testImages: images(testCount),
    testLabels: labels(testCount),
  };
}
