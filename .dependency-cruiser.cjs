/**
 * The layers of src/, checked by `npm run lint` (dependency-cruiser): no import cycles, and
 * each folder imports only from the folders below it. Lower layers first:
 *
 *   util < data < core < engine < train < store < sweep, predict < charts < notebook, bench < bin
 *
 * The entry points (src/index.ts, src/charts/index.ts, src/notebook/index.ts) re-export from
 * their layers and are imported by no module of the package.
 */
const LAYERS = {
  util: [],
  data: ['util'],
  core: ['util', 'data'],
  engine: ['util', 'data', 'core'],
  train: ['util', 'data', 'core', 'engine'],
  store: ['util', 'data', 'core', 'engine', 'train'],
  sweep: ['util', 'data', 'core', 'engine', 'train', 'store'],
  predict: ['util', 'data', 'core', 'store'],
  charts: ['util', 'core', 'train'],
  notebook: ['util', 'data', 'core', 'engine', 'train', 'store', 'sweep', 'predict', 'charts'],
  bench: ['util', 'data', 'core', 'engine', 'train', 'store', 'sweep'],
  bin: ['util', 'data', 'core', 'engine', 'train', 'store', 'sweep', 'predict', 'charts', 'bench', 'notebook'],
};

const layerRules = Object.entries(LAYERS).map(([layer, allowed]) => {
  const others = Object.keys(LAYERS).filter((name) => name !== layer && !allowed.includes(name));
  return {
    name: `layer-${layer}`,
    comment: `src/${layer}/ may import only from ${allowed.length > 0 ? allowed.map((name) => `src/${name}/`).join(', ') : 'Node.js and npm packages'} (and itself)`,
    severity: 'error',
    from: { path: `^src/${layer}/` },
    to: { path: `^src/(${others.join('|')})/` },
  };
});

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'An import cycle ties modules together so that neither can be read, tested or moved alone.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'no-entry-point-imports',
      comment: 'Entry points re-export for users and notebooks; modules import the module that defines a name.',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^src/(index|charts/index|notebook/index)\\.ts$' },
    },
    ...layerRules,
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    exclude: { path: '^(dist|build|node_modules)/' },
  },
};
