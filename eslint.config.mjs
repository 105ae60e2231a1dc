// The linter: typescript-eslint's recommended rules everywhere, and the type-checked ones (floating promises,
// misused promises) on the packages' sources, which have tsconfig projects. Layout is Biome's job (biome.json).
import eslint from '@eslint/js';
import tseslint from 'typescript-eslint';

const packageSources = [
	'protocol/src/**/*.ts',
	'server/src/**/*.ts',
	'client-lib/src/**/*.ts',
	'spyder-bridge/src/**/*.ts',
	'spec/conformance/src/**/*.ts',
	'examples/*/src/**/*.ts',
];

export default tseslint.config(
	{ ignores: ['**/dist/**', '**/node_modules/**', 'release/**', '.state/**'] },
	eslint.configs.recommended,
	...tseslint.configs.recommended,
	{
		languageOptions: {
			globals: {
				process: 'readonly',
				console: 'readonly',
				Buffer: 'readonly',
				setTimeout: 'readonly',
				clearTimeout: 'readonly',
				setInterval: 'readonly',
				clearInterval: 'readonly',
				setImmediate: 'readonly',
				URL: 'readonly',
				AbortController: 'readonly',
				AbortSignal: 'readonly',
				TextEncoder: 'readonly',
				TextDecoder: 'readonly',
				queueMicrotask: 'readonly',
				structuredClone: 'readonly',
				performance: 'readonly',
			},
		},
		rules: {
			// protocol/ has one namespace per message, as vscode-languageserver-protocol does: the namespace is the message.
			'@typescript-eslint/no-namespace': 'off',
			// Cleanup closures registered before a value exists must read the variable it is later assigned to.
			'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
			'@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
		},
	},
	{
		// Tests, benches and the conformance suite read raw wire messages from any server, and tests reach into internals.
		files: ['test/**/*.ts', 'bench/**/*.ts', 'spec/conformance/src/**/*.ts'],
		rules: { '@typescript-eslint/no-explicit-any': 'off' },
	},
	{
		files: packageSources,
		languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
		rules: {
			'@typescript-eslint/no-floating-promises': 'error',
			'@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: false }],
			'@typescript-eslint/await-thenable': 'error',
		},
	},
);
