/**
 * The IDX file format of MNIST: a big-endian int32 magic number (two zero bytes, a data-type
 * byte, a dimension-count byte), one big-endian int32 per dimension, then the values.
 * Files may be gzip-compressed; this reader recognises gzip by its own magic bytes.
 */
import { readFile } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';
import { errorMessage, firstLine } from '../util/text';

/** Data-type byte of unsigned 8-bit values, the only type MNIST uses. */
export const IDX_UNSIGNED_BYTE = 0x08;
/** Magic number of an image file: unsigned bytes, 3 dimensions (count, rows, columns). */
export const IDX_IMAGES_MAGIC = 0x00000803;
/** Magic number of a label file: unsigned bytes, 1 dimension (count). */
export const IDX_LABELS_MAGIC = 0x00000801;

/** Largest output a gzip file may expand to (the MNIST training images are 47 MB). */
export const MAX_GUNZIPPED_BYTES = 1 << 30;

const GZIP_MAGIC = [0x1f, 0x8b] as const;

/** A data file could not be used. Names the file, the problem, and what to do. */
export class DataError extends Error {
  constructor(
    readonly file: string,
    readonly problem: string,
    readonly hint = 'check that the file is an uncompressed or gzipped IDX file from an MNIST-format dataset',
  ) {
    super(`${file}: ${problem}; ${hint}`);
    this.name = 'DataError';
  }
}

export interface IdxArray {
  /** The magic number: 0x0803 for images, 0x0801 for labels. */
  magic: number;
  /** The dimension sizes from the header, e.g. [60000, 28, 28]. */
  dims: number[];
  /** The values, a view into the file's bytes (not a copy). */
  data: Uint8Array;
}

/** Whether `bytes` start with gzip's magic bytes. */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === GZIP_MAGIC[0] && bytes[1] === GZIP_MAGIC[1];
}

/** Decompresses gzipped bytes; errors name `file`. */
export function gunzip(bytes: Uint8Array, file: string): Uint8Array {
  try {
    return gunzipSync(bytes, { maxOutputLength: MAX_GUNZIPPED_BYTES });
  } catch (error) {
    const reason = errorMessage(error);
    throw new DataError(file, `corrupt gzip data (${reason})`, 'download the file again or use the uncompressed one');
  }
}

/**
 * Parses the bytes of an uncompressed IDX file. Every header field is checked against the file's
 * length before anything is allocated, so no input makes it allocate more than its own size.
 */
export function parseIdx(bytes: Uint8Array, file: string): IdxArray {
  if (bytes.length < 4) {
    throw new DataError(file, `too short for an IDX header: ${bytes.length} bytes (need at least 4)`);
  }
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    const head = Array.from(bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join(' ');
    throw new DataError(file, `not an IDX file: magic number must start with two zero bytes, found ${head}`);
  }
  const type = bytes[2];
  const rank = bytes[3];
  if (type !== IDX_UNSIGNED_BYTE) {
    throw new DataError(
      file,
      `unsupported IDX data type 0x${type.toString(16).padStart(2, '0')} (only unsigned bytes, 0x08, are supported)`,
    );
  }
  if (rank === 0) throw new DataError(file, 'IDX header declares 0 dimensions');
  const headerBytes = 4 + 4 * rank;
  if (bytes.length < headerBytes) {
    throw new DataError(
      file,
      `truncated header: ${rank} dimensions need ${headerBytes} bytes, file has ${bytes.length}`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims: number[] = [];
  for (let i = 0; i < rank; i++) dims.push(view.getUint32(4 + 4 * i, false));
  // A zero size makes the product 0 even when the others overflow it to Infinity (Infinity * 0 is NaN).
  const count = dims.includes(0) ? 0 : dims.reduce((a, b) => a * b, 1);
  const bodyBytes = bytes.length - headerBytes;
  if (count !== bodyBytes) {
    const problem =
      count > bodyBytes
        ? `truncated: header dimensions [${dims.join(', ')}] need ${count} data bytes, file has ${bodyBytes}`
        : `header dimensions [${dims.join(', ')}] need ${count} data bytes, file has ${bodyBytes} (${bodyBytes - count} extra)`;
    throw new DataError(file, problem);
  }
  const magic = view.getUint32(0, false);
  return { magic, dims, data: bytes.subarray(headerBytes) };
}

/** Parses IDX bytes that may be gzipped. */
export function decodeIdx(bytes: Uint8Array, file: string): IdxArray {
  return parseIdx(isGzip(bytes) ? gunzip(bytes, file) : bytes, file);
}

/** Reads an IDX file (raw or gzipped) from disk. */
export async function readIdxFile(path: string): Promise<IdxArray> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const problem = code === 'ENOENT' ? 'file not found' : `cannot be read (${firstLine(error)})`;
    throw new DataError(path, problem, 'check the data directory or pick another data source');
  }
  return decodeIdx(bytes, path);
}

/** Checks that `idx` has the expected magic number; `what` names the expected content. */
export function expectMagic(idx: IdxArray, magic: number, file: string, what: string): void {
  if (idx.magic !== magic) {
    const hex = (n: number) => `0x${n.toString(16).padStart(8, '0')}`;
    throw new DataError(
      file,
      `expected ${what} (magic ${hex(magic)}), found magic ${hex(idx.magic)}`,
      'check that images and labels files are not swapped',
    );
  }
}
