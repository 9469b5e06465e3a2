import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', 'cdk.out/', '.trainyard/', 'coverage/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    // Type-aware, for the one rule that needs types: a promise returned from inside try/finally must be
    // awaited there, or a failure that settles while the finally block runs is an unhandled rejection
    // (it once took down the local runtime's Batch stand-in).
    files: ['functions/**/*.ts', 'local/**/*.ts', 'worker/**/*.ts', 'lib/**/*.ts', 'bin/**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: { '@typescript-eslint/return-await': ['error', 'in-try-catch'] },
  },
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: ['**/local/*', '**/lib/*'], message: 'functions/ must not depend on local/ or lib/ (DESIGN.md).' }] },
      ],
    },
  },
  {
    files: ['functions/api/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['@aws-sdk/*'], message: 'API handlers call use cases in functions/core, never an AWS SDK client.' },
            { group: ['**/local/*', '**/lib/*'], message: 'functions/ must not depend on local/ or lib/.' },
          ],
        },
      ],
    },
  },
  {
    files: ['worker/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/functions/api/*', '**/functions/workflow/*', '**/functions/events/*', '**/functions/routes', '**/local/*', '**/lib/*'],
              message: 'worker/ imports only its own code and pure functions/core modules (DESIGN.md).',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['local/**/*.ts', 'lib/**/*.ts', 'bin/**/*.ts', 'test/**/*.ts', 'bench/**/*.ts'],
    rules: { 'no-restricted-imports': 'off' },
  },
);
