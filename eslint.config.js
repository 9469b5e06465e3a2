import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', 'cdk.out/', '.trainyard/', 'coverage/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
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
