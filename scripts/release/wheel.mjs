/**
 * The Spyder plugin as platform wheels, spyder_remote-M.m.p-py3-none-<tag>.whl: the plugin's
 * Python package with spyder_remote/bridge/ inside it, the single-file bridge and the Node it
 * runs on (where spyder_remote/locate.py looks first), so that `pip install` of that one file
 * gives a working plugin on a machine without Node. build_wheel.py writes the wheel itself.
 */
import { execFile } from 'node:child_process';
import { cp, mkdir, rm } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import { writeClientBundles } from './client-tree.mjs';
import { repositoryRoot } from './paths.mjs';
import { installRuntime } from './runtime.mjs';

const run = promisify(execFile);
const pluginSource = join(repositoryRoot, 'spyder-bridge', 'python');

/**
 * Stages the wheel's tree for `platform` in `staging` and writes the wheel into `out`; returns
 * its path.
 * @param {import('./platforms.mjs').Platform} platform
 */
export async function writeWheel(platform, staging, out) {
	const tree = join(staging, `wheel-${platform.id}`);
	const bridge = join(tree, 'spyder_remote', 'bridge');
	await mkdir(tree, { recursive: true });
	await cp(join(pluginSource, 'spyder_remote'), join(tree, 'spyder_remote'), { recursive: true, filter: (source) => !source.includes('__pycache__') });
	await writeClientBundles(bridge, ['spyder-remote-bridge']);
	await installRuntime(platform, bridge);
	// Debian's Python: the one the tests install the wheel into, with tomllib (3.11).
	const { stdout } = await run('/usr/bin/python3', [
		join(repositoryRoot, 'scripts', 'release', 'build_wheel.py'),
		join(pluginSource, 'pyproject.toml'),
		tree,
		`py3-none-${platform.wheelTag}`,
		out,
	]);
	await rm(tree, { recursive: true });
	return stdout.trim();
}

/** The version in a wheel's file name (PEP 427: name-version-python-abi-platform.whl). */
export function wheelVersion(file) {
	return basename(file).split('-')[1];
}
