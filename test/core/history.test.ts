import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { historyToJson, parseHistory, type History } from '../../src/core/history';
import { makeHistory } from '../charts/histories';

/** A history as saved before the stop reason was recorded: no `stop` field. */
function oldHistory(change: Partial<History>): string {
  const { stop: _stop, ...rest } = { ...makeHistory(), ...change };
  return JSON.stringify(rest);
}

describe('parseHistory', () => {
  it('reads the stop reason a history records', () => {
    const history = makeHistory();
    history.status = 'stopped';
    history.stop = { reason: 'interrupted', step: 42, of: 50, message: null };
    assert.deepEqual(parseHistory(historyToJson(history), 'history.json').stop, history.stop);
  });

  it('derives the stop reason of a history saved before it was recorded, from its status and error text', () => {
    const parse = (change: Partial<History>) => parseHistory(oldHistory(change), 'old/history.json').stop;
    assert.deepEqual(parse({}), { reason: 'completed', step: 50, of: 50, message: null });
    assert.deepEqual(parse({ status: 'stopped', error: 'stopped at step 2355 of 30000', final: null }), {
      reason: 'aborted',
      step: 2355,
      of: 30000,
      message: null,
    });
    const diverged = 'training diverged at step 7: the loss is 1319.666259765625 (above 1000) with learning rate 50.';
    assert.deepEqual(parse({ status: 'diverged', error: diverged, final: null }), {
      reason: 'diverged',
      step: 7,
      of: 50,
      message: diverged,
    });
    // Other text: the step reached from the records (the last evaluation, step 50), the text as the message.
    assert.deepEqual(parse({ status: 'failed', error: 'out of memory', final: null }), {
      reason: 'failed',
      step: 50,
      of: 50,
      message: 'out of memory',
    });
    assert.deepEqual(parse({ status: 'stopped', error: 'not started: the sweep was stopped', final: null }), {
      reason: 'aborted',
      step: 50,
      of: 50,
      message: 'not started: the sweep was stopped',
    });
    assert.equal(parse({ status: 'running', final: null }), null, 'a run whose process was killed');
  });

  it('names the file and what is missing', () => {
    assert.throws(() => parseHistory('{', 'a/history.json'), /^Error: a\/history\.json: not valid JSON/);
    assert.throws(() => parseHistory('{"backend": "cpu"}', 'b/history.json'), /b\/history\.json: .*missing config/);
  });
});
