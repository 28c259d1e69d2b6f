// Lint: typescript-eslint's recommended rules, no import cycles, and the architecture's module
// boundaries (.eslint/rules/architecture.js; CONTRIBUTING.md says what they are and why).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { createNodeResolver, importX } from 'eslint-plugin-import-x';
import architecture from './.eslint/rules/architecture.js';

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'node_modules/**',
      'out/**',
      'test-results/**',
      'bench-output/**',
      'test/fixtures/**',
      '**/*.d.ts',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.{ts,js,mjs,cjs}'],
    plugins: { 'import-x': importX, local: { rules: { architecture } } },
    languageOptions: { ecmaVersion: 2023, sourceType: 'module' },
    settings: {
      // Imports name the built `.js`; the sources are `.ts`.
      'import-x/resolver-next': [createNodeResolver({ extensionAlias: { '.js': ['.ts', '.js'] } })],
      'import-x/extensions': ['.ts', '.js', '.mjs'],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts'] },
    },
    rules: {
      'import-x/no-cycle': ['error', { ignoreExternal: true }],
      'import-x/no-duplicates': 'error',
      'local/architecture': 'error',
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' },
      ],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'separate-type-imports' }],
    },
  },
  {
    // Node's globals for the JavaScript files (the compiler checks the TypeScript's names).
    files: ['main/**', 'test/**', 'models/**', 'bin/**', '.eslint/**', '*.js', '*.mjs', 'renderer/build.mjs'],
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        Buffer: 'readonly',
        URL: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        setImmediate: 'readonly',
        performance: 'readonly',
        structuredClone: 'readonly',
        TextDecoder: 'readonly',
        TextEncoder: 'readonly',
        AbortController: 'readonly',
        fetch: 'readonly',
        queueMicrotask: 'readonly',
        WebAssembly: 'readonly',
        globalThis: 'readonly',
      },
    },
  },
  {
    // A script the end-to-end tests inject into the page: the browser's globals.
    files: ['test/app/e2e/bridge-page.js'],
    languageOptions: {
      sourceType: 'script',
      globals: { window: 'readonly', document: 'readonly', atob: 'readonly', __TRIAGE_DROP_FOLDER__: 'readonly' },
    },
  },
);
