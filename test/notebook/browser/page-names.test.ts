import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { namesFromOutside } from './page-names';

const fromModule = 41;

describe('namesFromOutside', () => {
  it("finds a module's names and Node's globals, and accepts the browser's", () => {
    function leaky(): number {
      return fromModule + Buffer.byteLength('x') + document.body.childElementCount + Math.max(1, 2);
    }
    assert.deepEqual(namesFromOutside(leaky.toString()), ['Buffer', 'fromModule']);
    const clean = (id: string) => document.getElementById(id)?.remove();
    assert.deepEqual(namesFromOutside(clean.toString()), []);
  });
});
