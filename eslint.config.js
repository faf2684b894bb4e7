// ESLint (flat config) with typescript-eslint, syntax-only: no rule that needs
// type information, so that a lint run stays a few seconds. typescript-eslint
// comes from tools/lint-ts (see its package.json for why).
import js from '@eslint/js';
import tseslint from 'iommu-replay-lint-ts';

// The layers of src/, highest first (docs/architecture.md): a file may import
// from its own layer and the layers after it, never from one before it. Files
// directly in src/ are the lowest layer.
const LAYERS = ['cli', 'report', 'run', 'model', 'invalidation', 'caches', 'import', 'workloads', 'stats', 'config', 'trace'];

/** no-restricted-imports for the files of layer `i` (LAYERS.length: the files directly in src/). */
function layerRule(i) {
  const above = LAYERS.slice(0, i);
  return {
    files: i < LAYERS.length ? [`src/${LAYERS[i]}/**/*.ts`] : ['src/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              // Relative specifiers only: from src/X/, a higher layer Y is '../Y/...'; from src/, './Y/...'.
              group: above.flatMap((l) => [`../${l}/*`, `./${l}/*`]),
              message: `an import up the layers (${LAYERS.join(' > ')} > src/*.ts): move the shared piece down, or pass it in through an interface (docs/architecture.md)`,
            },
          ],
        },
      ],
    },
  };
}

export default tseslint.config(
  // bench/floor/assembly is AssemblyScript (decorators on functions), not TypeScript.
  { ignores: ['dist/', 'node_modules/', 'tools/*/node_modules/', 'reports/', 'traces/', 'bench/floor/assembly/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      ecmaVersion: 2023,
      sourceType: 'module',
      globals: {
        console: 'readonly',
        process: 'readonly',
        performance: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setImmediate: 'readonly',
        URL: 'readonly',
        Buffer: 'readonly',
        TextEncoder: 'readonly',
        TextDecoder: 'readonly',
        structuredClone: 'readonly',
        AbortController: 'readonly',
        AbortSignal: 'readonly',
        queueMicrotask: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
      },
    },
    rules: {
      // Unused names are errors, except those that say they are unused on
      // purpose (`_rest`), and destructured siblings kept out of a rest (run.ts
      // drops `iotlb` from a configuration that way).
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none', ignoreRestSiblings: true }],
      // `x!` is how the code says "set by the caller's check above" at a few
      // dozen sites in the hot paths; an explicit check there costs a branch.
      '@typescript-eslint/no-non-null-assertion': 'off',
      // A `let` assigned once after the closures that read it (workloads/index.ts's
      // writer, made after the simulation's callbacks) says that order; const cannot.
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
    },
  },
  {
    // The reader names a file by its bytes, control characters included, on
    // purpose (a tab, a newline: text, not a binary); the regex is right.
    files: ['src/trace/reader.ts'],
    rules: { 'no-control-regex': 'off' },
  },
  {
    // Tests of escaping look for the raw control characters (ESC, CR, LF) that
    // must never reach a terminal or a report.
    files: ['test/**/*.ts'],
    rules: { 'no-control-regex': 'off' },
  },
  // cli, the top layer, may import anything.
  ...Array.from({ length: LAYERS.length }, (_, i) => layerRule(i + 1)),
);
