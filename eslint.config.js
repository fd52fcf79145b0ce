// Lint rules: typescript-eslint's recommended set; `any` is banned outright (STYLE.md: unknown at the edges).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'packages/*/dist/**', 'node_modules/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['bin/**/*.js'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly' } },
  },
  {
    // The admin console runs in the browser (bundled by scripts/build-console.js).
    files: ['console/**/*.js'],
    languageOptions: {
      globals: Object.fromEntries(
        [
          'addEventListener',
          'btoa',
          'crypto',
          'clearInterval',
          'Blob',
          'document',
          'fetch',
          'location',
          'removeEventListener',
          'TextEncoder',
          'window',
          'setInterval',
          'URL',
          'URLSearchParams',
        ].map((name) => [name, 'readonly']),
      ),
    },
  },
);
