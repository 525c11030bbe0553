import fc from 'fast-check';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gunzipSync, gzipSync } from 'node:zlib';
import { PNG } from 'pngjs';
import {
  DataError,
  IDX_IMAGES_MAGIC,
  IDX_LABELS_MAGIC,
  decodeIdx,
  expectMagic,
  isGzip,
  parseIdx,
  readIdxFile,
  type IdxArray,
} from '../../src/data/idx';

/** The bytes of an IDX file: header (type byte, one big-endian int32 per dimension), then `body`. */
function idxBytes(dims: number[], body?: ArrayLike<number>, type = 0x08): Uint8Array {
  const count = dims.reduce((a, b) => a * b, 1);
  const values = body ?? Array.from({ length: count }, (_, i) => (i * 7 + 3) % 256);
  const bytes = new Uint8Array(4 + 4 * dims.length + values.length);
  const view = new DataView(bytes.buffer);
  bytes[2] = type;
  bytes[3] = dims.length;
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  bytes.set(values, 4 + 4 * dims.length);
  return bytes;
}

const IMAGES = idxBytes([3, 4, 5]);
const LABELS = idxBytes([6], [0, 1, 2, 9, 8, 7]);

/** Asserts that `fn` throws a DataError naming `file` whose problem matches `problem`. */
function assertDataError(fn: () => unknown, file: string, problem: RegExp): DataError {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  assert.ok(
    caught instanceof DataError,
    `expected a DataError, got ${caught === undefined ? 'no error' : String(caught)}`,
  );
  assert.equal(caught.file, file);
  assert.match(caught.problem, problem);
  assert.ok(caught.message.startsWith(`${file}: `), caught.message);
  return caught;
}

async function assertRejectsDataError(promise: Promise<unknown>, file: string, problem: RegExp): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof DataError, `expected a DataError, got ${String(error)}`);
    assert.equal(error.file, file);
    assert.match(error.problem, problem);
    return true;
  });
}

describe('parseIdx on valid files', () => {
  it('reads the magic number, the dimensions and the values of an images file', () => {
    const idx = parseIdx(IMAGES, 'images');
    assert.equal(idx.magic, IDX_IMAGES_MAGIC);
    assert.deepEqual(idx.dims, [3, 4, 5]);
    assert.deepEqual(
      Array.from(idx.data),
      Array.from({ length: 60 }, (_, i) => (i * 7 + 3) % 256),
    );
  });

  it('reads a labels file', () => {
    const idx = parseIdx(LABELS, 'labels');
    assert.equal(idx.magic, IDX_LABELS_MAGIC);
    assert.deepEqual(idx.dims, [6]);
    assert.deepEqual(Array.from(idx.data), [0, 1, 2, 9, 8, 7]);
  });

  it('returns the values as a view into the input, not a copy', () => {
    // An input that itself sits at an offset inside a bigger buffer.
    const big = new Uint8Array(LABELS.length + 10);
    big.set(LABELS, 7);
    const input = big.subarray(7, 7 + LABELS.length);
    const idx = parseIdx(input, 'labels');
    assert.equal(idx.data.buffer, big.buffer);
    assert.equal(idx.data.byteOffset, 7 + 8);
    assert.deepEqual(Array.from(idx.data), [0, 1, 2, 9, 8, 7]);
  });

  it('accepts a dimension of size 0 with an empty body, even after huge dimensions', () => {
    assert.deepEqual(parseIdx(idxBytes([0, 28, 28]), 'empty').dims, [0, 28, 28]);
    // The product of 40 sizes of 2^32 - 1 overflows to Infinity; a zero makes it 0 all the same.
    const dims = [...new Array<number>(40).fill(0xffffffff), 0];
    const idx = parseIdx(idxBytes(dims, []), 'empty');
    assert.equal(idx.data.length, 0);
    assert.deepEqual(idx.dims, dims);
  });

  it('decodes gzipped files and recognises gzip by its magic bytes', () => {
    const gz = gzipSync(IMAGES);
    assert.ok(isGzip(gz));
    assert.ok(!isGzip(IMAGES));
    assert.ok(!isGzip(new Uint8Array([0x1f])));
    const idx = decodeIdx(gz, 'images.gz');
    assert.deepEqual(idx.dims, [3, 4, 5]);
    assert.deepEqual(Array.from(idx.data), Array.from(parseIdx(IMAGES, 'x').data));
    assert.deepEqual(decodeIdx(IMAGES, 'raw').dims, [3, 4, 5]);
  });
});

describe('parseIdx rejects bad files with a DataError naming the file and the problem', () => {
  it('too short', () => {
    assertDataError(() => parseIdx(new Uint8Array([0, 0, 8]), 'f'), 'f', /too short for an IDX header: 3 bytes/);
    assertDataError(() => parseIdx(new Uint8Array(0), 'f'), 'f', /too short .*0 bytes/);
  });

  it('wrong magic: non-zero first bytes', () => {
    const bytes = IMAGES.slice();
    bytes[0] = 0x12;
    assertDataError(
      () => parseIdx(bytes, 'f'),
      'f',
      /not an IDX file: magic number must start with two zero bytes, found 12 00 08 03/,
    );
    const second = IMAGES.slice();
    second[1] = 1;
    assertDataError(() => parseIdx(second, 'f'), 'f', /not an IDX file/);
  });

  it('unsupported data type', () => {
    // 0x0d is float32, a valid IDX type that MNIST never uses.
    assertDataError(() => parseIdx(idxBytes([2], [0, 0], 0x0d), 'f'), 'f', /unsupported IDX data type 0x0d/);
    assertDataError(() => parseIdx(idxBytes([2], [0, 0], 0x09), 'f'), 'f', /unsupported IDX data type 0x09/);
  });

  it('zero dimensions', () => {
    assertDataError(() => parseIdx(new Uint8Array([0, 0, 8, 0, 1, 2]), 'f'), 'f', /declares 0 dimensions/);
  });

  it('truncated header', () => {
    assertDataError(
      () => parseIdx(IMAGES.subarray(0, 10), 'f'),
      'f',
      /truncated header: 3 dimensions need 16 bytes, file has 10/,
    );
  });

  it('truncated body', () => {
    assertDataError(
      () => parseIdx(IMAGES.subarray(0, IMAGES.length - 1), 'f'),
      'f',
      /truncated: header dimensions \[3, 4, 5\] need 60 data bytes, file has 59/,
    );
  });

  it('extra bytes', () => {
    const longer = new Uint8Array(IMAGES.length + 3);
    longer.set(IMAGES);
    assertDataError(
      () => parseIdx(longer, 'f'),
      'f',
      /header dimensions \[3, 4, 5\] need 60 data bytes, file has 63 \(3 extra\)/,
    );
  });

  it('dimensions that disagree with the size', () => {
    // 5 images of 28 x 28 declared, 2 present.
    assertDataError(
      () => parseIdx(idxBytes([5, 28, 28], new Uint8Array(2 * 784)), 'f'),
      'f',
      /truncated: .*need 3920 data bytes, file has 1568/,
    );
    // Huge dimensions: rejected from the header alone, without allocating.
    assertDataError(
      () => parseIdx(idxBytes([0xffffffff, 0xffffffff, 0xffffffff], []), 'f'),
      'f',
      /truncated: header dimensions \[4294967295, 4294967295, 4294967295\]/,
    );
  });

  it('corrupt gzip', () => {
    const gz = gzipSync(IMAGES);
    assertDataError(() => decodeIdx(gz.subarray(0, gz.length - 6), 'f.gz'), 'f.gz', /corrupt gzip data/);
    const flipped = gz.slice();
    flipped[12] ^= 0xff;
    flipped[13] ^= 0xff;
    assertDataError(() => decodeIdx(flipped, 'f.gz'), 'f.gz', /corrupt gzip data/);
    assertDataError(() => decodeIdx(new Uint8Array([0x1f, 0x8b]), 'f.gz'), 'f.gz', /corrupt gzip data/);
  });

  it('a gzipped file whose content is bad names the file too', () => {
    assertDataError(() => decodeIdx(gzipSync(IMAGES.subarray(0, 30)), 'f.gz'), 'f.gz', /truncated/);
  });

  it('non-IDX files: a PNG image and a text file', () => {
    const png = new PNG({ width: 2, height: 2 });
    png.data.fill(255);
    assertDataError(
      () => decodeIdx(PNG.sync.write(png), 'digit.png'),
      'digit.png',
      /not an IDX file: .*found 89 50 4e 47/,
    );
    assertDataError(() => decodeIdx(Buffer.from('hello, world\n'), 'notes.txt'), 'notes.txt', /not an IDX file/);
    assertDataError(
      () => decodeIdx(Buffer.from('<!DOCTYPE html><html>Not Found</html>'), 'page.html'),
      'page.html',
      /not an IDX file/,
    );
  });
});

describe('readIdxFile', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'idx-test-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('reads raw and gzipped files', async () => {
    writeFileSync(join(dir, 'raw'), IMAGES);
    writeFileSync(join(dir, 'packed.gz'), gzipSync(IMAGES));
    assert.deepEqual((await readIdxFile(join(dir, 'raw'))).dims, [3, 4, 5]);
    const packed = await readIdxFile(join(dir, 'packed.gz'));
    assert.deepEqual(Array.from(packed.data), Array.from(parseIdx(IMAGES, 'x').data));
  });

  it('a missing file', async () => {
    const path = join(dir, 'missing-idx3-ubyte');
    await assertRejectsDataError(readIdxFile(path), path, /^file not found$/);
  });

  it('a folder where a file should be', async () => {
    const path = join(dir, 'folder');
    mkdirSync(path);
    await assertRejectsDataError(readIdxFile(path), path, /^cannot be read \(.*EISDIR/);
  });

  it('errors in the content name the path', async () => {
    const path = join(dir, 'text');
    writeFileSync(path, 'not an idx file at all');
    await assertRejectsDataError(readIdxFile(path), path, /not an IDX file/);
  });
});

describe('expectMagic', () => {
  it('accepts the expected kind and explains a swap', () => {
    expectMagic(parseIdx(IMAGES, 'i'), IDX_IMAGES_MAGIC, 'i', 'an images file');
    const error = assertDataError(
      () => expectMagic(parseIdx(LABELS, 'l'), IDX_IMAGES_MAGIC, 'l', 'an images file'),
      'l',
      /expected an images file \(magic 0x00000803\), found magic 0x00000801/,
    );
    assert.match(error.hint, /swapped/);
  });
});

describe('parseIdx and decodeIdx on random and mutated input (property-based)', () => {
  /** Checks one input: a result consistent with the bytes, or a DataError; nothing else. */
  function check(input: Uint8Array): void {
    let result: IdxArray;
    try {
      result = decodeIdx(input, 'fuzz');
    } catch (error) {
      if (!(error instanceof DataError)) throw new Error(`threw ${String(error)} instead of a DataError`);
      assert.equal(error.file, 'fuzz');
      return;
    }
    // What parseIdx saw: the input, or what it inflates to.
    const parsed = isGzip(input) ? new Uint8Array(gunzipSync(input)) : input;
    const header = 4 + 4 * result.dims.length;
    assert.equal(header + result.data.length, parsed.length, 'header plus values must be the whole file');
    assert.equal(
      result.dims.reduce((a, b) => a * b, 1),
      result.data.length,
      'the dimensions must account for every value',
    );
    assert.ok(result.data.byteLength <= parsed.length);
    assert.equal(result.magic >>> 16, 0);
    if (!isGzip(input)) {
      // A view into the input: nothing was allocated for the values.
      assert.equal(result.data.buffer, input.buffer);
      assert.equal(result.data.byteOffset, input.byteOffset + header);
    } else {
      // A gzip stream cannot expand beyond ~1032 times its size.
      assert.ok(result.data.byteLength <= input.length * 1100);
    }
  }

  const validFiles = [IMAGES, LABELS, idxBytes([2, 3]), idxBytes([1, 1, 1, 1]), idxBytes([0, 5])];
  const validFile = fc.constantFrom(...validFiles);

  type Mutation =
    | { kind: 'flip'; at: number; value: number }
    | { kind: 'truncate'; at: number }
    | { kind: 'append'; bytes: Uint8Array }
    | { kind: 'dimension'; index: number; value: number }
    | { kind: 'header'; at: number; value: number };

  const mutation: fc.Arbitrary<Mutation> = fc.oneof(
    fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
    fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
    fc.record({ kind: fc.constant('append' as const), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
    fc.record({
      kind: fc.constant('dimension' as const),
      index: fc.nat(),
      value: fc.oneof(fc.nat(70), fc.constant(0xffffffff), fc.integer({ min: 0, max: 0xffffffff })),
    }),
    fc.record({ kind: fc.constant('header' as const), at: fc.nat(3), value: fc.integer({ min: 0, max: 255 }) }),
  );

  function mutate(file: Uint8Array, mutations: Mutation[]): Uint8Array {
    let bytes = file.slice();
    for (const m of mutations) {
      switch (m.kind) {
        case 'flip':
          if (bytes.length > 0) bytes[m.at % bytes.length] = m.value;
          break;
        case 'truncate':
          bytes = bytes.slice(0, m.at % (bytes.length + 1));
          break;
        case 'append': {
          const longer = new Uint8Array(bytes.length + m.bytes.length);
          longer.set(bytes);
          longer.set(m.bytes, bytes.length);
          bytes = longer;
          break;
        }
        case 'dimension': {
          const rank = bytes.length >= 4 ? bytes[3] : 0;
          const at = 4 + 4 * (m.index % Math.max(1, rank));
          if (at + 4 <= bytes.length) new DataView(bytes.buffer).setUint32(at, m.value, false);
          break;
        }
        case 'header':
          if (m.at < bytes.length) bytes[m.at] = m.value;
          break;
      }
    }
    return bytes;
  }

  /** Mutated raw files, mutated gzip files, gzip of mutated files, and random bytes. */
  const inputs = fc.oneof(
    {
      weight: 4,
      arbitrary: fc
        .tuple(validFile, fc.array(mutation, { minLength: 1, maxLength: 4 }))
        .map(([f, ms]) => mutate(f, ms)),
    },
    {
      weight: 2,
      arbitrary: fc
        .tuple(validFile, fc.array(mutation, { minLength: 1, maxLength: 3 }))
        .map(([f, ms]) => mutate(gzipSync(f), ms)),
    },
    {
      weight: 2,
      arbitrary: fc
        .tuple(validFile, fc.array(mutation, { maxLength: 3 }))
        .map(([f, ms]) => new Uint8Array(gzipSync(mutate(f, ms)))),
    },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }) },
    {
      weight: 1,
      // Random bytes behind a plausible magic number, so that the header checks are reached.
      arbitrary: fc
        .tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 6 }), fc.uint8Array({ maxLength: 64 }))
        .map(([type, rank, rest]) => {
          const bytes = new Uint8Array(4 + rest.length);
          bytes.set([0, 0, type, rank]);
          bytes.set(rest, 4);
          return bytes;
        }),
    },
  );

  it('returns a consistent result or throws DataError on 12,000 inputs', () => {
    let results = 0;
    let errors = 0;
    fc.assert(
      fc.property(inputs, (input) => {
        try {
          decodeIdx(input, 'fuzz');
          results++;
        } catch {
          errors++;
        }
        check(input);
      }),
      { numRuns: 12000, seed: 20240601 },
    );
    // Both outcomes must occur, or the generator is not exercising the parser.
    assert.ok(results > 100, `only ${results} inputs parsed`);
    assert.ok(errors > 100, `only ${errors} inputs rejected`);
  });

  it('never throws anything but DataError on fully random input', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (input) => check(input)),
      { numRuns: 2000, seed: 7 },
    );
  });
});
