// Lint rules: typescript-eslint's recommended set on the sources and tests; Prettier formats them.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'build/', 'node_modules/', 'notebooks/', 'scratch/', 'runs/', 'data/', 'test/fixtures/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // Prettier keeps code within 120 columns; this catches the comments and strings it leaves.
      'max-len': [
        'error',
        { code: 120, ignoreUrls: true, ignoreRegExpLiterals: true, ignoreStrings: true, ignoreTemplateLiterals: true },
      ],
    },
  },
  {
    // Code that runs in the notebook's page, embedded as its compiled text: nothing from Node or
    // from its module's scope reaches the page (test/notebook/browser checks the compiled text).
    files: ['src/notebook/browser/**/*.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          selector: "ImportDeclaration[importKind='value']",
          message: 'Page code is embedded alone: import types only (`import type`), pass values in.',
        },
        {
          selector: 'Program > :matches(VariableDeclaration, ClassDeclaration, FunctionDeclaration)',
          message: 'Page code is embedded alone: put helpers and constants inside the exported function.',
        },
        {
          selector: 'Program > ExportNamedDeclaration > :matches(VariableDeclaration, ClassDeclaration)',
          message: 'Page code is embedded alone: export functions and types only.',
        },
      ],
      'no-restricted-globals': [
        'error',
        ...['Buffer', 'process', 'require', 'module', 'exports', '__dirname', '__filename', 'global'].map((name) => ({
          name,
          message: 'Page code runs in the browser, not in Node.',
        })),
      ],
    },
  },
);
