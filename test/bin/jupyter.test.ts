import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { findJupyter, JUPYTERLAB_SETUP_COMMAND, kernelArgument, projectVenv } from '../../src/bin/jupyter';

describe('findJupyter and the project environment', () => {
  const has = (modules: Record<string, string[]>) => (python: string, code: string) =>
    (modules[python] ?? []).some((m) => code === `import ${m}`);
  const venv = '/repo/.venv';

  test("prefers the project environment's JupyterLab", () => {
    const check = has({
      '/repo/.venv/bin/python': ['jupyter_client', 'jupyterlab'],
      python3: ['jupyter_client', 'jupyterlab'],
    });
    assert.deepEqual(findJupyter({ PATH: '' }, check, venv), {
      python: '/repo/.venv/bin/python',
      app: 'jupyterlab',
      args: [],
    });
  });

  test('takes a JupyterLab found later over the classic Notebook found first', () => {
    const check = has({
      python3: ['jupyter_client', 'notebook'],
      '/usr/bin/python3': ['jupyter_client', 'jupyterlab'],
    });
    assert.deepEqual(findJupyter({ PATH: '' }, check, venv), {
      python: '/usr/bin/python3',
      app: 'jupyterlab',
      args: [],
    });
    const classic = has({ python3: ['jupyter_client', 'notebook'] });
    assert.deepEqual(findJupyter({ PATH: '' }, classic, venv), { python: 'python3', app: 'notebook', args: [] });
  });

  test('keeps JUPYTER_PYTHON when it has Jupyter, and looks further when it has not', () => {
    const check = has({
      '/opt/py': ['jupyter_client', 'notebook'],
      '/repo/.venv/bin/python': ['jupyter_client', 'jupyterlab'],
    });
    assert.deepEqual(findJupyter({ PATH: '', JUPYTER_PYTHON: '/opt/py' }, check, venv), {
      python: '/opt/py',
      app: 'notebook',
      args: [],
    });
    assert.deepEqual(findJupyter({ PATH: '', JUPYTER_PYTHON: '/opt/none' }, check, venv), {
      python: '/repo/.venv/bin/python',
      app: 'jupyterlab',
      args: [],
    });
  });

  test('names the one command that installs JupyterLab when there is no Jupyter', () => {
    assert.throws(
      () => findJupyter({ PATH: '' }, () => false, venv),
      (error: Error) => error.message.includes(`\`${JUPYTERLAB_SETUP_COMMAND}\` installs JupyterLab into /repo/.venv`),
    );
  });

  test('puts the environment in .venv of the project, or MNIST_VENV', () => {
    assert.equal(projectVenv({}, '/repo'), '/repo/.venv');
    assert.equal(projectVenv({ MNIST_VENV: 'env/jl' }, '/repo'), '/repo/env/jl');
    assert.equal(projectVenv({ MNIST_VENV: '/abs/venv' }, '/repo'), '/abs/venv');
  });
});

describe('kernelArgument', () => {
  test('takes --kernel out of the arguments passed on to Jupyter; tslab by default', () => {
    assert.deepEqual(kernelArgument(['--no-browser']), { kernel: 'tslab', rest: ['--no-browser'] });
    assert.deepEqual(kernelArgument(['--kernel', 'deno', '--port', '8890']), {
      kernel: 'deno',
      rest: ['--port', '8890'],
    });
    assert.deepEqual(kernelArgument(['--kernel=tslab']), { kernel: 'tslab', rest: [] });
  });

  test('rejects another kernel or a missing name, naming the choices', () => {
    assert.throws(() => kernelArgument(['--kernel', 'python3']), /"python3" is not tslab or deno/);
    assert.throws(() => kernelArgument(['--kernel']), /--kernel needs a name: tslab or deno/);
  });
});
