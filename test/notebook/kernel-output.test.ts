import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { denoJupyter, denoOutput, kernelOutput, showPng, type DenoJupyter } from '../../src/notebook/kernel-output';

type Call = [Record<string, unknown>, { raw: true; display_id?: string; update?: boolean }];

/** A stand-in for `Deno.jupyter` that records its display calls. */
function fakeJupyter(): DenoJupyter & { calls: Call[] } {
  const calls: Call[] = [];
  return { calls, display: async (bundle, options) => void calls.push([bundle, options]) };
}

/** Runs `action` with `globalThis.Deno` set to `deno`, then removes it. */
function withDeno<T>(deno: unknown, action: () => T): T {
  const scope = globalThis as { Deno?: unknown };
  scope.Deno = deno;
  try {
    return action();
  } finally {
    delete scope.Deno;
  }
}

describe('kernel output', () => {
  test("finds Deno's kernel by Deno.jupyter.display, and nothing elsewhere", () => {
    const jupyter = fakeJupyter();
    assert.equal(denoJupyter({ Deno: { jupyter } }), jupyter);
    assert.equal(denoJupyter({ Deno: { version: {} } }), null, 'Deno outside its Jupyter kernel');
    assert.equal(denoJupyter({}), null, 'Node');
    assert.equal(denoJupyter(globalThis), null, 'this test runs in Node');
  });

  test('under Deno: raw HTML bundles, and a slot shown once then updated under one display id', () => {
    const jupyter = fakeJupyter();
    const output = denoOutput(jupyter);
    output.html('<p>a</p>');
    const slot = output.newDisplay();
    slot.html('<p>1</p>');
    slot.html('<p>2</p>');
    const other = output.newDisplay();
    other.html('<p>x</p>');
    assert.deepEqual(jupyter.calls[0], [{ 'text/html': '<p>a</p>' }, { raw: true }]);
    const [, first] = jupyter.calls[1];
    assert.match(first.display_id ?? '', /^mnist-/);
    assert.deepEqual(jupyter.calls[1], [
      { 'text/html': '<p>1</p>' },
      { raw: true, display_id: first.display_id, update: false },
    ]);
    assert.deepEqual(jupyter.calls[2], [
      { 'text/html': '<p>2</p>' },
      { raw: true, display_id: first.display_id, update: true },
    ]);
    assert.notEqual(jupyter.calls[3][1].display_id, first.display_id, 'each slot has its own id');
    assert.equal(jupyter.calls[3][1].update, false);
  });

  test('kernelOutput and showPng use Deno.jupyter when it is there', () => {
    const jupyter = fakeJupyter();
    withDeno({ jupyter }, () => {
      kernelOutput().html('<b>chart</b>');
      showPng(Uint8Array.from([137, 80, 78, 71]));
    });
    assert.deepEqual(jupyter.calls, [
      [{ 'text/html': '<b>chart</b>' }, { raw: true }],
      [{ 'image/png': Buffer.from([137, 80, 78, 71]).toString('base64') }, { raw: true }],
    ]);
  });

  test('a failed Deno display is reported on stderr, not left as an unhandled rejection', async () => {
    const errors: string[] = [];
    const original = console.error;
    console.error = (line: string) => void errors.push(line);
    try {
      denoOutput({ display: () => Promise.reject(new Error('socket closed')) }).html('<p/>');
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      console.error = original;
    }
    assert.deepEqual(errors, ['notebook display failed: socket closed']);
  });

  test('outside any kernel, showing says which kernels it needs', () => {
    assert.throws(() => showPng(Uint8Array.from([1])), /tslab or the Deno kernel/);
  });
});
