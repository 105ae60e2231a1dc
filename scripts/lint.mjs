// `npm run lint`: the tree's one formatter (Biome, layout only; npm owns the package.json files), its linter (ESLint with typescript-eslint) and, for the
// Python plugin, Debian's flake8. Each runs without a shell; the first failure sets the exit code, and all three run.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = (name) => join(root, 'node_modules', '.bin', name);
const checks = [
	['biome', bin('biome'), ['format', '.']],
	['eslint', bin('eslint'), ['--max-warnings=0', '.']],
	// Debian's flake8 belongs to Debian's Python; python3 on PATH may be another build.
	['flake8', '/usr/bin/python3', ['-m', 'flake8', 'spyder-bridge/python', 'examples', 'test/helpers', 'scripts']],
];
let failed = false;
for (const [name, file, args] of checks) {
	const result = spawnSync(file, args, { cwd: root, stdio: 'inherit' });
	if (result.error) console.error(`lint: cannot run ${name}: ${result.error.message}`);
	if (result.status !== 0) {
		console.error(`lint: ${name} failed`);
		failed = true;
	}
}
process.exit(failed ? 1 : 0);
