/**
 * The client's folder, for a laptop: the `ssd` CLI and the Spyder bridge, each a single-file
 * bundle, with the Node runtime of that OS.
 *
 *   bin/ssd, bin/spyder-remote-bridge     launchers (.cmd on Windows)
 *   lib/ssd.js, lib/spyder-remote-bridge.js
 *   node/                                 the Node runtime
 *   package.json                          version and "type": "module", read by the bundles
 */
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { bundleClient, clientEntries } from './bundle.mjs';
import { writeBundlePackage } from './bundle-package.mjs';
import { writeLauncher } from './launchers.mjs';
import { repositoryRoot } from './paths.mjs';
import { installRuntime } from './runtime.mjs';

const clientPackage = join(repositoryRoot, 'client-lib', 'package.json');

export async function clientVersion() {
	return JSON.parse(await readFile(clientPackage, 'utf8')).version;
}

/**
 * The bundles named in `entries` (all by default) and their package.json, without Node or
 * launchers: the Spyder wheel carries the bridge's this way.
 */
export async function writeClientBundles(root, entries = Object.keys(clientEntries)) {
	const manifest = JSON.parse(await readFile(clientPackage, 'utf8'));
	await mkdir(root, { recursive: true });
	await bundleClient(root, entries);
	await writeBundlePackage(root, manifest);
}

/**
 * Lays out the client for `platform` in `root`.
 * @param {import('./platforms.mjs').Platform} platform
 */
export async function writeClientTree(platform, root) {
	await writeClientBundles(root);
	await installRuntime(platform, root);
	for (const name of Object.keys(clientEntries)) await writeLauncher(platform, root, name, `lib/${name}.js`);
}
