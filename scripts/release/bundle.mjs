/**
 * The apps as single-file ESM bundles (esbuild), one per entry point, from the TypeScript build
 * in each package's dist/. The server's entry points start one another by path at run time
 * (`new URL('../bin/ssd-session-host.js', import.meta.url)`, and its package.json and PAM file
 * two levels up), so its bundles keep the names and the bin/ folder they have in dist/.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { build } from 'esbuild';
import { repositoryRoot } from './paths.mjs';

/** What cannot be bundled: koffi loads its native binary from its own package folder. */
const serverExternals = ['koffi'];

const serverEntries = ['ssd-server', 'ssd-session-host', 'ssd-reaper', 'ssd-mdns-responder', 'ssd-node-agent'];
/** The client's bundles, by the name of the command each one is. */
export const clientEntries = { ssd: 'client-lib/dist/bin/ssd.js', 'spyder-remote-bridge': 'spyder-bridge/dist/bin/spyder-remote-bridge.js' };

/** Writes lib/bin/<entry>.js for each server entry point under `directory`. */
export async function bundleServer(directory) {
	await bundle(
		Object.fromEntries(serverEntries.map((name) => [name, join(repositoryRoot, 'server/dist/bin', `${name}.js`)])),
		join(directory, 'lib', 'bin'),
		serverExternals,
	);
}

/** Writes lib/<name>.js under `directory` for each of `names`, keys of clientEntries. */
export async function bundleClient(directory, names) {
	await bundle(Object.fromEntries(names.map((name) => [name, join(repositoryRoot, clientEntries[name])])), join(directory, 'lib'), []);
}

async function bundle(entryPoints, outdir, external) {
	const result = await build({
		entryPoints,
		outdir,
		external,
		bundle: true,
		platform: 'node',
		format: 'esm',
		target: 'node20',
		// CommonJS dependencies call require() for Node's built-ins, which an ESM bundle lacks.
		banner: { js: "import { createRequire as createRequireForBundle } from 'node:module';\nconst require = createRequireForBundle(import.meta.url);" },
		// The bundled packages' licence notices, kept at the end of each file.
		legalComments: 'eof',
		logLevel: 'warning',
		write: false,
	});
	// Without the entry points' #! lines: a launcher runs each bundle on the Node shipped beside it,
	// and `#!/usr/bin/env node` would only promise a system Node that need not be there.
	for (const output of result.outputFiles) {
		await mkdir(dirname(output.path), { recursive: true });
		await writeFile(output.path, output.text.replace(/^#!.*\n/, ''), { mode: 0o644 });
	}
}
