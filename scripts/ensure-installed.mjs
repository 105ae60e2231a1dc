#!/usr/bin/env node
// Makes a fresh clone runnable: npm dependencies, the TypeScript build, and, for the tests,
// the Debian packages they use. Runs before `npm start` and `npm test`; each step is skipped
// when already done, so a warm run costs a second or less.
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureRoot, isBuilt, spyderSuites } from './debian-root.mjs';
import { basePackages, releasePackages, servicePackages, slurmPackages, spyderPackages } from './test-packages.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const run = (file, args, options = {}) => execFileSync(file, args, { cwd: root, stdio: 'inherit', ...options });
const forTests = process.argv.includes('--tests');

/** Besides the base, Spyder, release, service and Slurm packages: plain Jupyter kernels and tools, and mmdebstrap, which builds the Debian roots where Spyder 6.0 and 6.1 are tested. */
const testPackages = [
	...basePackages,
	'python3-ipykernel',
	'python3-jupyter-client',
	'jupyter-console',
	...spyderPackages,
	...releasePackages,
	...servicePackages,
	...slurmPackages,
	'mmdebstrap',
];

const installedMarker = join(root, 'node_modules', '.package-lock.json');
if (!existsSync(installedMarker) || statSync(installedMarker).mtimeMs < statSync(join(root, 'package-lock.json')).mtimeMs) {
	console.error('ensure-installed: installing npm dependencies (npm ci)');
	run('npm', ['ci', '--no-audit', '--no-fund']);
}

if (forTests) {
	const missing = testPackages.filter((name) => {
		try {
			return !execFileSync('dpkg-query', ['-W', '-f=${Status}', name], { encoding: 'utf8' }).includes('install ok installed');
		} catch {
			return true;
		}
	});
	if (missing.length > 0) {
		if (process.getuid?.() !== 0) {
			console.error(`ensure-installed: the tests need these Debian packages: ${missing.join(' ')}; run as root or install them`);
			process.exit(1);
		}
		console.error(`ensure-installed: installing ${missing.join(' ')}`);
		run('apt-get', ['update'], { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
		run('apt-get', ['install', '-y', '--no-install-recommends', ...missing], { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
	}
	// The Spyder 6 tests run in Debian roots: built here, both at once, the first time only.
	const suites = Object.values(spyderSuites).filter((suite) => !isBuilt(suite));
	if (suites.length > 0 && process.getuid?.() === 0) {
		console.error(`ensure-installed: building the Debian roots ${suites.join(' and ')} for the Spyder 6 tests (about 5 minutes, once)`);
		await Promise.all(suites.map((suite) => ensureRoot(suite)));
	}
}

run(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-b']);
// tsc does not keep the executable bit, and npm links bins only for files that exist at install time.
for (const workspace of JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).workspaces) {
	const manifest = JSON.parse(readFileSync(join(root, workspace, 'package.json'), 'utf8'));
	for (const bin of Object.values(manifest.bin ?? {})) chmodSync(join(root, workspace, bin), 0o755);
}
if (!existsSync(join(root, 'node_modules', '.bin', 'ssd'))) run('npm', ['rebuild', '--no-audit', '--no-fund', '--ignore-scripts']);
