import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { DataError, readIdxFile } from '../../src/data/idx';
import {
  BatchSampler,
  MAX_DOWNLOAD_BYTES,
  MNIST_FILES,
  downloadCached,
  cacheFolderFor,
  embeddedDataDir,
  labelCounts,
  loadMnist,
  mnistFromBytes,
  toOneHot,
  type DataSet,
  type MnistData,
  type MnistFileRole,
} from '../../src/data/mnist';
import { Random } from '../../src/util/random';
import { idxBytes } from '../helpers/idx';

const ROWS = 2;
const COLS = 3;
const PIXELS = ROWS * COLS;

/** `count` small images whose pixels encode their index, and labels `index % 10`. */
function fixture(count: number, offset = 0): { images: Uint8Array; labels: Uint8Array } {
  const pixels = Array.from(
    { length: count * PIXELS },
    (_, i) => (Math.floor(i / PIXELS) + offset + (i % PIXELS) * 40) % 256,
  );
  const labels = Array.from({ length: count }, (_, i) => (i + offset) % 10);
  return { images: idxBytes([count, ROWS, COLS], pixels), labels: idxBytes([count], labels) };
}

const TRAIN = fixture(30);
const TEST = fixture(12, 100);
const FILES: Record<MnistFileRole, Uint8Array> = {
  trainImages: TRAIN.images,
  trainLabels: TRAIN.labels,
  testImages: TEST.images,
  testLabels: TEST.labels,
};

/** Writes the four files (gzipped unless `raw`) into `dir`, with `replace` swapping some contents. */
function writeDataset(dir: string, replace: Partial<Record<MnistFileRole, Uint8Array>> = {}, raw = false): void {
  mkdirSync(dir, { recursive: true });
  for (const role of Object.keys(MNIST_FILES) as MnistFileRole[]) {
    const bytes = replace[role] ?? FILES[role];
    writeFileSync(join(dir, MNIST_FILES[role] + (raw ? '' : '.gz')), raw ? bytes : gzipSync(bytes));
  }
}

async function rejectsDataError(promise: Promise<unknown>, check: (error: DataError) => void): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof DataError, `expected a DataError, got ${String(error)}`);
    check(error);
    return true;
  });
}

let tmp: string;
before(() => {
  tmp = mkdtempSync(join(tmpdir(), 'mnist-test-'));
});
after(() => rmSync(tmp, { recursive: true, force: true }));

describe('the embedded MNIST files', () => {
  let data: MnistData;
  before(async () => {
    data = await loadMnist();
  });

  it("splits 55,000 / 5,000 / 10,000 as the tutorial's read_data_sets does", () => {
    assert.equal(data.train.count, 55000);
    assert.equal(data.validation.count, 5000);
    assert.equal(data.test.count, 10000);
    for (const set of [data.train, data.validation, data.test]) {
      assert.equal(set.imageSize, 784);
      assert.equal(set.numClasses, 10);
      assert.equal(set.images.length, set.count * 784);
      assert.equal(set.labels.length, set.count);
    }
  });

  it('has the known label counts of the full training file and of the test file', () => {
    const full = labelCounts(data.validation.labels).map((n, digit) => n + labelCounts(data.train.labels)[digit]);
    assert.deepEqual(full, [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]);
    assert.deepEqual(labelCounts(data.test.labels), [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]);
  });

  it('keeps the first 5,000 training images for validation, in file order', async () => {
    const file = await readIdxFile(join(embeddedDataDir(), MNIST_FILES.trainLabels));
    assert.deepEqual(Array.from(data.validation.labels), Array.from(file.data.subarray(0, 5000)));
    assert.deepEqual(Array.from(data.train.labels), Array.from(file.data.subarray(5000)));
    const images = await readIdxFile(join(embeddedDataDir(), MNIST_FILES.trainImages));
    const first = 5000 * 784;
    for (const i of [0, 1, 400, 783]) assert.equal(data.train.images[i], Math.fround(images.data[first + i] / 255));
  });

  it('has pixels in [0, 1], both ends reached', () => {
    for (const set of [data.train, data.validation, data.test]) {
      const pixels = set.images;
      let min = Infinity;
      let max = -Infinity;
      for (let i = 0; i < pixels.length; i++) {
        if (pixels[i] < min) min = pixels[i];
        if (pixels[i] > max) max = pixels[i];
      }
      assert.equal(min, 0);
      assert.equal(max, 1);
    }
  });

  it('describes where it came from', () => {
    assert.match(data.description, /embedded/);
  });
});

describe('toOneHot and labelCounts', () => {
  it('makes one row per label with a single 1 at the label', () => {
    const labels = [3, 0, 9, 3];
    const oneHot = toOneHot(labels);
    assert.equal(oneHot.length, 40);
    for (let row = 0; row < labels.length; row++) {
      const values = Array.from(oneHot.subarray(row * 10, row * 10 + 10));
      assert.equal(
        values.reduce((a, b) => a + b, 0),
        1,
      );
      assert.equal(values[labels[row]], 1);
    }
    assert.deepEqual(Array.from(toOneHot([1, 0], 2)), [0, 1, 1, 0]);
  });

  it('counts labels per class', () => {
    assert.deepEqual(labelCounts([3, 0, 9, 3]), [1, 0, 0, 2, 0, 0, 0, 0, 0, 1]);
    assert.deepEqual(labelCounts([], 3), [0, 0, 0]);
  });
});

describe('a directory source', () => {
  it('reads gzipped copies of the four files', async () => {
    const dir = join(tmp, 'gz');
    writeDataset(dir);
    const data = await loadMnist({ kind: 'directory', path: dir }, { validationSize: 5 });
    assert.equal(data.train.count, 25);
    assert.equal(data.validation.count, 5);
    assert.equal(data.test.count, 12);
    assert.equal(data.train.imageSize, PIXELS);
    // The first training image after the validation set is image 5 of the file.
    assert.equal(data.train.images[0], Math.fround(5 / 255));
    assert.equal(data.train.images[1], Math.fround((5 + 40) / 255));
    assert.deepEqual(Array.from(data.validation.labels), [0, 1, 2, 3, 4]);
    assert.deepEqual(Array.from(data.test.labels.subarray(0, 3)), [0, 1, 2]);
    assert.equal(data.description, `directory ${dir}`);
  });

  it('reads raw files too', async () => {
    const dir = join(tmp, 'raw');
    writeDataset(dir, {}, true);
    const data = await loadMnist({ kind: 'directory', path: dir }, { validationSize: 10 });
    assert.equal(data.train.count, 20);
  });

  it('names a missing file', async () => {
    const dir = join(tmp, 'missing');
    writeDataset(dir);
    rmSync(join(dir, `${MNIST_FILES.testLabels}.gz`));
    await rejectsDataError(loadMnist({ kind: 'directory', path: dir }, { validationSize: 5 }), (error) => {
      assert.equal(error.file, join(dir, MNIST_FILES.testLabels));
      assert.match(error.problem, /file not found \(nor t10k-labels-idx1-ubyte\.gz\)/);
    });
  });

  it('names the labels file when images and labels counts differ', async () => {
    const dir = join(tmp, 'count');
    writeDataset(dir, { trainLabels: fixture(29).labels });
    await rejectsDataError(loadMnist({ kind: 'directory', path: dir }, { validationSize: 5 }), (error) => {
      assert.equal(error.file, join(dir, `${MNIST_FILES.trainLabels}.gz`));
      assert.match(error.problem, /29 labels but .*train-images-idx3-ubyte\.gz has 30 images/);
    });
  });

  it('explains swapped images and labels files', async () => {
    const dir = join(tmp, 'swapped');
    writeDataset(dir, { testImages: TEST.labels, testLabels: TEST.images });
    await rejectsDataError(loadMnist({ kind: 'directory', path: dir }, { validationSize: 5 }), (error) => {
      assert.equal(error.file, join(dir, `${MNIST_FILES.testImages}.gz`));
      assert.match(error.problem, /expected an images file/);
      assert.match(error.message, /swapped/);
    });
  });

  it('rejects labels outside the classes, labels or images files with other dimensions and mismatched image sizes', async () => {
    const badLabel = fixture(30).labels.slice();
    badLabel[8 + 4] = 10;
    await rejectsDataError(
      Promise.resolve().then(() => mnistFromBytes({ ...FILES, trainLabels: badLabel })),
      (error) => {
        assert.equal(error.file, MNIST_FILES.trainLabels);
        assert.match(error.problem, /label 10 at index 4 is not a class 0-9/);
      },
    );
    const twoColumns = idxBytes([30, 2], new Uint8Array(60));
    await rejectsDataError(
      Promise.resolve().then(() => mnistFromBytes({ ...FILES, trainLabels: twoColumns })),
      (error) => {
        // The magic number counts the dimensions: two make it 0x0802.
        assert.equal(error.file, MNIST_FILES.trainLabels);
        assert.match(error.problem, /expected a labels file \(magic 0x00000801\), found magic 0x00000802/);
      },
    );
    const flatImages = idxBytes([30, 6], new Uint8Array(180));
    await rejectsDataError(
      Promise.resolve().then(() => mnistFromBytes({ ...FILES, trainImages: flatImages })),
      (error) => {
        assert.equal(error.file, MNIST_FILES.trainImages);
        assert.match(error.problem, /expected an images file \(magic 0x00000803\), found magic 0x00000802/);
      },
    );
    const dir = join(tmp, 'sizes');
    writeDataset(dir, { testImages: idxBytes([12, 3, 3], new Uint8Array(12 * 9)) });
    await rejectsDataError(loadMnist({ kind: 'directory', path: dir }, { validationSize: 5 }), (error) => {
      assert.match(error.problem, /images are 9 pixels but the training images are 6/);
    });
  });

  it('rejects a validation size that leaves no training images', async () => {
    const dir = join(tmp, 'validation');
    writeDataset(dir);
    await rejectsDataError(loadMnist({ kind: 'directory', path: dir }, { validationSize: 30 }), (error) => {
      assert.match(error.problem, /cannot keep 30 of its 30 images for validation/);
    });
  });
});

describe('mnistFromBytes', () => {
  it('decodes in-memory files, raw or gzipped', () => {
    const data = mnistFromBytes({ ...FILES, trainImages: gzipSync(FILES.trainImages) });
    assert.equal(data.validation.count, 3);
    assert.equal(data.train.count, 27);
    assert.equal(data.test.count, 12);
    assert.equal(data.test.images[0], Math.fround(100 / 255));
  });
});

describe('a url source', () => {
  let server: Server;
  let baseUrl: string;
  const requests: string[] = [];
  /** What the server serves, by path. */
  const served = new Map<string, Uint8Array>();

  before(async () => {
    for (const role of Object.keys(MNIST_FILES) as MnistFileRole[])
      served.set(`/mnist/${MNIST_FILES[role]}.gz`, gzipSync(FILES[role]));
    server = createServer((request, response) => {
      requests.push(request.url ?? '');
      const body = served.get(request.url ?? '');
      if (body === undefined) {
        response.writeHead(404).end('not found');
        return;
      }
      response.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length }).end(body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/mnist/`;
  });

  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  const sha = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

  it('downloads into the cache folder once, then reads the cached copies', async () => {
    const cacheDir = join(tmp, 'cache');
    requests.length = 0;
    const sha256 = Object.fromEntries(
      (Object.keys(MNIST_FILES) as MnistFileRole[]).map((role) => [
        role,
        sha(served.get(`/mnist/${MNIST_FILES[role]}.gz`)!),
      ]),
    );
    const first = await loadMnist({ kind: 'url', baseUrl, cacheDir, sha256 }, { validationSize: 5 });
    assert.equal(first.train.count, 25);
    assert.equal(first.test.count, 12);
    assert.equal(requests.length, 4);
    assert.deepEqual([...requests].sort(), [...served.keys()].sort());
    const folder = cacheFolderFor(baseUrl, cacheDir);
    assert.deepEqual(
      readdirSync(folder).sort(),
      Object.values(MNIST_FILES)
        .map((name) => `${name}.gz`)
        .sort(),
    );

    const second = await loadMnist({ kind: 'url', baseUrl, cacheDir, sha256 }, { validationSize: 5 });
    assert.equal(requests.length, 4, 'the second load must not download again');
    assert.deepEqual(second.train.labels, first.train.labels);
    assert.match(second.description, /download from http:\/\/127\.0\.0\.1/);
  });

  it('rejects a SHA-256 mismatch and leaves no file under the final name', async () => {
    const cacheDir = join(tmp, 'cache-sha');
    const wrong = '0'.repeat(64);
    await rejectsDataError(
      loadMnist({ kind: 'url', baseUrl, cacheDir, sha256: { trainLabels: wrong } }, { validationSize: 5 }),
      (error) => {
        assert.equal(error.file, `${baseUrl}${MNIST_FILES.trainLabels}.gz`);
        assert.match(error.problem, new RegExp(`SHA-256 mismatch: expected ${wrong}, got [0-9a-f]{64}`));
      },
    );
    const folder = cacheFolderFor(baseUrl, cacheDir);
    assert.ok(!existsSync(join(folder, `${MNIST_FILES.trainLabels}.gz`)));
    // Nothing half-written either: only complete files of the roles checked before the mismatch.
    for (const name of existsSync(folder) ? readdirSync(folder) : [])
      assert.ok(!name.includes(MNIST_FILES.trainLabels), `left ${name}`);
  });

  it('checks cached copies against the hash too', async () => {
    const cacheDir = join(tmp, 'cache-tampered');
    await loadMnist({ kind: 'url', baseUrl, cacheDir }, { validationSize: 5 });
    const cached = join(cacheFolderFor(baseUrl, cacheDir), `${MNIST_FILES.testImages}.gz`);
    writeFileSync(cached, gzipSync(fixture(12, 7).images));
    const expected = sha(served.get(`/mnist/${MNIST_FILES.testImages}.gz`)!);
    await rejectsDataError(
      loadMnist({ kind: 'url', baseUrl, cacheDir, sha256: { testImages: expected } }, { validationSize: 5 }),
      (error) => {
        assert.equal(error.file, cached);
        assert.match(error.problem, /SHA-256 mismatch/);
      },
    );
  });

  it('reports HTTP errors with the URL', async () => {
    const cacheDir = join(tmp, 'cache-404');
    const missing = `${baseUrl}nothing-here/`;
    await rejectsDataError(loadMnist({ kind: 'url', baseUrl: missing, cacheDir }), (error) => {
      assert.equal(error.file, `${missing}${MNIST_FILES.trainImages}.gz`);
      assert.match(error.problem, /HTTP 404/);
    });
    assert.ok(!existsSync(join(cacheFolderFor(missing, cacheDir), `${MNIST_FILES.trainImages}.gz`)));
  });

  it('reports a server that cannot be reached', async () => {
    // A port nobody listens on: take a free one and close it.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as AddressInfo).port;
    await new Promise((resolve) => probe.close(resolve));
    await rejectsDataError(
      loadMnist({ kind: 'url', baseUrl: `http://127.0.0.1:${port}/`, cacheDir: join(tmp, 'cache-down') }),
      (error) => {
        assert.match(error.problem, /download failed \(.*ECONNREFUSED/);
      },
    );
  });

  it('reports a cache folder that cannot be written as a DataError', async () => {
    const blocker = join(tmp, 'a-file');
    writeFileSync(blocker, 'x');
    await rejectsDataError(
      loadMnist({ kind: 'url', baseUrl, cacheDir: join(blocker, 'cache') }, { validationSize: 5 }),
      (error) => {
        assert.match(error.file, /a-file\/cache\//);
        assert.match(error.problem, /cannot write the download cache \(ENOTDIR/);
        assert.match(error.message, /choose another cache folder/);
      },
    );
  });
});

describe('downloads are bounded (a local server on 127.0.0.1)', () => {
  let server: Server;
  let base: string;
  let cache: string;
  const body = gzipSync(FILES.trainLabels);

  before(async () => {
    cache = join(tmp, 'bounded-cache');
    server = createServer((request, response) => {
      // Accepts the connection, never answers.
      if (request.url?.startsWith('/silent') === true) return;
      switch (request.url) {
        case '/stall':
          response.writeHead(200, { 'content-length': 1000 });
          response.write(Buffer.alloc(100));
          return; // then nothing more
        case '/endless': {
          response.writeHead(200);
          const chunk = Buffer.alloc(16 * 1024, 7);
          const pump = () => {
            while (!response.destroyed && response.write(chunk));
            if (!response.destroyed) response.once('drain', pump);
          };
          return pump();
        }
        case '/announced':
          response.writeHead(200, { 'content-length': 10 ** 9 });
          return response.write(Buffer.alloc(10));
        case '/loop-a':
          return response.writeHead(302, { location: '/loop-b' }).end();
        case '/loop-b':
          return response.writeHead(302, { location: 'loop-a' }).end();
        case '/hop-1':
          return response.writeHead(301, { location: '/hop-2' }).end();
        case '/hop-2':
          return response.writeHead(307, { location: `${base}/file` }).end();
        case '/file':
          return response.writeHead(200, { 'content-length': body.length }).end(body);
        default:
          response.writeHead(404).end();
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  /** Downloads `path` into the cache and expects a DataError whose problem matches; nothing is left in the cache. */
  async function refused(path: string, problem: RegExp, limits = {}, maxBytes?: number): Promise<number> {
    const target = join(cache, path.slice(1));
    const start = performance.now();
    await rejectsDataError(downloadCached(`${base}${path}`, target, undefined, limits, maxBytes), (error) => {
      assert.equal(error.file, `${base}${path}`);
      assert.match(error.problem, problem);
      console.log(`${path}: ${error.message}`);
    });
    assert.deepEqual(
      existsSync(cache) ? readdirSync(cache) : [],
      [],
      'no partial file, under the final name or another',
    );
    return performance.now() - start;
  }

  it('a server that never answers: the connect timeout', async () => {
    const ms = await refused('/silent', /^download failed \(no response within 0\.3 s\)$/, { connectTimeoutMs: 300 });
    assert.ok(ms < 5000, `took ${ms} ms`);
  });

  it('a server that stops sending: the idle timeout', async () => {
    await refused('/stall', /^download failed \(no data for 0\.3 s after 100 bytes\)$/, { idleTimeoutMs: 300 });
  });

  it('an endless body: stopped at the size cap; an announced size above it: refused before reading', async () => {
    await refused(
      '/endless',
      /^download stopped: more than [\d,]+ bytes received, above the limit of 1,000,000 bytes for this file$/,
      {},
      1_000_000,
    );
    await refused(
      '/announced',
      /^download stopped: the server announces 1,000,000,000 bytes, above the limit of 240,032 bytes for this file$/,
      {},
      MAX_DOWNLOAD_BYTES.trainLabels,
    );
  });

  it('a redirect loop: stopped after the redirect limit; a few redirects are followed', async () => {
    await refused(
      '/loop-a',
      new RegExp(
        `^download failed: more than 5 redirects \\(${base}/loop-a -> ${base}/loop-b -> ${base}/loop-a -> ${base}/loop-b -> ${base}/loop-a -> ${base}/loop-b -> ${base}/loop-a\\)$`,
      ),
    );
    const target = join(cache, 'file');
    assert.equal(await downloadCached(`${base}/hop-1`, target), target);
    assert.deepEqual(readFileSync(target), body);
    rmSync(target);
  });

  it('the limits apply to a url source, with a size cap per file by default', async () => {
    await rejectsDataError(
      loadMnist({ kind: 'url', baseUrl: `${base}/silent/`, cacheDir: cache, limits: { connectTimeoutMs: 300 } }),
      (error) => {
        assert.match(error.file, /\/silent\/train-images-idx3-ubyte\.gz$/);
        assert.equal(error.problem, 'download failed (no response within 0.3 s)');
      },
    );
    assert.ok(MAX_DOWNLOAD_BYTES.trainImages >= 47_040_016, 'the original MNIST file fits the default cap');
  });
});

describe('BatchSampler', () => {
  const COUNT = 10;
  /** A data set whose first pixel is the example's index and whose label is index % 7. */
  const data: DataSet = {
    images: Float32Array.from({ length: COUNT * 2 }, (_, i) => (i % 2 === 0 ? i / 2 : -1)),
    labels: Uint8Array.from({ length: COUNT }, (_, i) => i % 7),
    count: COUNT,
    imageSize: 2,
    numClasses: 7,
  };

  /** Indices of the examples of a batch. */
  function draw(sampler: BatchSampler, size: number): number[] {
    const batch = sampler.nextBatch(size);
    assert.equal(batch.size, size);
    const indices = Array.from({ length: size }, (_, row) => batch.images[row * 2]);
    indices.forEach((example, row) => {
      assert.equal(batch.images[row * 2 + 1], -1);
      assert.equal(batch.labels[row], example % 7);
    });
    return indices;
  }

  /** The epoch orders `next_batch` walks through: successive shuffles by one generator. */
  function epochOrders(seed: number, epochs: number): number[][] {
    const random = new Random(seed);
    return Array.from({ length: epochs }, () =>
      Array.from(random.shuffle(Uint32Array.from({ length: COUNT }, (_, i) => i))),
    );
  }

  it('walks the first epoch in the order of a permutation', () => {
    const sampler = new BatchSampler(data, 42);
    const epoch = [...draw(sampler, 5), ...draw(sampler, 5)];
    assert.deepEqual(
      [...epoch].sort((a, b) => a - b),
      [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    );
    assert.notDeepEqual(epoch, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.deepEqual(epoch, epochOrders(42, 1)[0]);
    assert.deepEqual(sampler.getState().epochsCompleted, 0);
  });

  it('takes the rest of the epoch and the start of the next shuffled one when a batch crosses the end', () => {
    const sampler = new BatchSampler(data, 3);
    const [first, second] = epochOrders(3, 2);
    assert.notDeepEqual(first, second);
    assert.deepEqual(draw(sampler, 4), first.slice(0, 4));
    assert.deepEqual(draw(sampler, 4), first.slice(4, 8));
    assert.deepEqual(draw(sampler, 4), [...first.slice(8), ...second.slice(0, 2)]);
    assert.equal(sampler.getState().epochsCompleted, 1);
    assert.equal(sampler.getState().indexInEpoch, 2);
    assert.deepEqual(draw(sampler, 8), second.slice(2));
  });

  it('gives the same order for the same seed and another for another seed', () => {
    const a = new BatchSampler(data, 9);
    const b = new BatchSampler(data, 9);
    const c = new BatchSampler(data, 10);
    const run = (s: BatchSampler) => Array.from({ length: 8 }, () => draw(s, 3)).flat();
    const sequence = run(a);
    assert.deepEqual(run(b), sequence);
    assert.notDeepEqual(run(c), sequence);
  });

  it('continues identically from a saved state, mid-epoch and at an epoch end', () => {
    for (const drawn of [0, 1, 3, 5, 7]) {
      const original = new BatchSampler(data, 5);
      for (let i = 0; i < drawn; i++) draw(original, 4);
      // Through JSON, as a checkpoint stores it.
      const state = JSON.parse(JSON.stringify(original.getState()));
      const resumed = new BatchSampler(data, 5, state);
      assert.deepEqual(resumed.getState(), original.getState());
      for (let i = 0; i < 12; i++)
        assert.deepEqual(
          draw(resumed, i % 2 === 0 ? 4 : 3),
          draw(original, i % 2 === 0 ? 4 : 3),
          `after ${drawn} batches, batch ${i}`,
        );
    }
    // A batch of 5 ends exactly at the end of an epoch.
    const atEnd = new BatchSampler(data, 5);
    draw(atEnd, 5);
    draw(atEnd, 5);
    const resumed = new BatchSampler(data, 5, atEnd.getState());
    assert.deepEqual(draw(resumed, 10), draw(atEnd, 10));
  });

  it('rejects an empty training set', () => {
    assert.throws(
      () => new BatchSampler({ ...data, count: 0, images: new Float32Array(0), labels: new Uint8Array(0) }, 1),
      DataError,
    );
  });
});
