/**
 * Each package's version is written once, in its package.json (for the
 * Python plugin, `__version__` in spyder_remote/__init__.py); what a program
 * reports is read from there. Where two versions must agree, this says so.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { execa } from 'execa';
import { CLIENT_VERSION } from '@spyder-remote/client';
import { SERVER_VERSION } from '@spyder-remote/server';
import { BRIDGE_VERSION } from 'spyder-remote-bridge';

interface Manifest {
	readonly name: string;
	readonly version: string;
	readonly dependencies?: Record<string, string>;
	readonly workspaces?: readonly string[];
}

const manifest = (directory: string): Manifest => JSON.parse(readFileSync(join(directory, 'package.json'), 'utf8'));
const workspaces = manifest('.').workspaces ?? [];
const pluginDirectory = 'spyder-bridge/python';

test("a workspace package depends on another at exactly that one's version, so npm links it instead of fetching another", (t) => {
	const versions = new Map(workspaces.map((directory) => [manifest(directory).name, manifest(directory).version]));
	const mismatches: string[] = [];
	for (const directory of workspaces) {
		for (const [name, wanted] of Object.entries(manifest(directory).dependencies ?? {})) {
			const actual = versions.get(name);
			if (actual !== undefined && actual !== wanted) mismatches.push(`${directory} wants ${name} ${wanted}, the workspace has ${actual}`);
		}
	}
	t.deepEqual(mismatches, []);
});

test('the client, the server and the bridge report the versions of their package.json', async (t) => {
	t.is(CLIENT_VERSION, manifest('client-lib').version);
	t.is(SERVER_VERSION, manifest('server').version);
	t.is(BRIDGE_VERSION, manifest('spyder-bridge').version);
	const bridge = await execa(process.execPath, ['spyder-bridge/dist/bin/spyder-remote-bridge.js', '--version']);
	t.is(bridge.stdout, manifest('spyder-bridge').version);
});

test("the Python plugin's package metadata takes its version from __version__, and it is the bridge's: the two ship and speak together", async (t) => {
	// What pip builds the distribution's version from, resolved the way setuptools does.
	const resolved = await execa(
		'/usr/bin/python3',
		[
			'-W',
			'ignore',
			'-c',
			"from setuptools.config.pyprojecttoml import read_configuration; print(read_configuration('pyproject.toml', expand=True)['project']['version'])",
		],
		{ cwd: pluginDirectory },
	);
	const imported = await execa('/usr/bin/python3', ['-c', 'import spyder_remote; print(spyder_remote.__version__)'], { cwd: pluginDirectory });
	t.is(resolved.stdout, imported.stdout);
	t.is(imported.stdout, manifest('spyder-bridge').version);
});
