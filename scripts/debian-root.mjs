// Debian roots of newer releases, for the Spyders this machine's Debian does
// not have: trixie has Spyder 6.0, sid has Spyder 6.1, each with the
// spyder-kernels, Python and Node.js of its release. A root is built once with
// mmdebstrap from the mirror the host's apt uses, and kept under /var/cache
// keyed by suite and package list, so later runs reuse it. Commands run in it
// through chroot, in a private mount namespace that takes its mounts along
// when it ends (scripts/enter-root.mjs).
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { basePackages, spyderPackages } from './test-packages.mjs';

/** The Spyders tested in a root, by the Debian suite that ships them. */
export const spyderSuites = { '6.0': 'trixie', 6.1: 'sid' };

/** The host's test packages, and what this machine has from elsewhere: Node.js and CA certificates; matplotlib for the Plots pane. */
const packages = [...basePackages, ...spyderPackages, 'nodejs', 'ca-certificates'].sort();

const cacheDirectory = '/var/cache/spyder-remote-tests/roots';
const keyring = '/usr/share/keyrings/debian-archive-keyring.gpg';
const enterScript = fileURLToPath(new URL('enter-root.mjs', import.meta.url));

/** Where the root of `suite` is, built or not. */
export function rootDirectory(suite) {
	const key = createHash('sha256')
		.update(`${suite} ${packages.join(',')}`)
		.digest('hex')
		.slice(0, 12);
	return join(cacheDirectory, `${suite}-${key}`);
}

export function isBuilt(suite) {
	return existsSync(join(rootDirectory(suite), '.built'));
}

/** The first mirror in the host's apt configuration (deb822 or one-line format). */
async function hostMirror() {
	const directory = '/etc/apt/sources.list.d';
	const names = (await readdir(directory).catch(() => [])).filter((name) => name.endsWith('.sources') || name.endsWith('.list'));
	for (const file of [...names.map((name) => join(directory, name)), '/etc/apt/sources.list']) {
		const text = await readFile(file, 'utf8').catch(() => '');
		const uri = /^URIs:\s*(\S+)/m.exec(text)?.[1] ?? /^deb\s+(?:\[[^\]]*\]\s+)?(\S+:\/\/\S+)/m.exec(text)?.[1];
		if (uri) return uri;
	}
	throw new Error('no Debian mirror found in the apt configuration');
}

/** Builds the root of `suite` if it is not there yet (about 3-5 minutes and 2 GB); returns its directory. */
export async function ensureRoot(suite) {
	const directory = rootDirectory(suite);
	if (isBuilt(suite)) return directory;
	await mkdir(cacheDirectory, { recursive: true, mode: 0o700 });
	// Built aside and renamed into place: an interrupted build is never mistaken for a root.
	const partial = `${directory}.partial-${process.pid}`;
	await rm(partial, { recursive: true, force: true });
	const started = Date.now();
	await promisify(execFile)(
		'mmdebstrap',
		[
			'--mode=root',
			'--variant=apt',
			'--format=directory',
			`--include=${packages.join(',')}`,
			// The mirror may be a dated snapshot, where a moving suite's Release file is past its Valid-Until.
			'--aptopt=Acquire::Check-Valid-Until "false"',
			'--customize-hook=chmod 1777 "$1/tmp"',
			suite,
			partial,
			`deb [signed-by=${keyring}] ${await hostMirror()} ${suite} main`,
		],
		{ maxBuffer: 64 * 1024 * 1024 },
	);
	await writeFile(join(partial, '.built'), `${suite}\n${packages.join('\n')}\nbuilt in ${Math.round((Date.now() - started) / 1000)} s\n`);
	await rename(partial, directory).catch(async (error) => {
		// Another run finished the same root first.
		if (error.code !== 'ENOTEMPTY' && error.code !== 'EEXIST') throw error;
		await rm(partial, { recursive: true, force: true });
	});
	return directory;
}

/**
 * Runs `file args` as root inside the root, with /proc, /sys, /dev and a fresh /dev/shm,
 * `binds` (host directories) at the same paths, exactly `env` and `cwd`. Resolves to
 * { exitCode, output } (stdout and stderr interleaved).
 */
export function runInRoot(directory, file, args, { binds = [], env = {}, cwd = '/', timeout = 0 } = {}) {
	const environment = { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', HOME: '/root', LANG: 'C.UTF-8', ...env };
	const child = spawn(
		'unshare',
		[
			'--mount',
			'--propagation',
			'private',
			'--fork',
			'--',
			process.execPath,
			enterScript,
			directory,
			JSON.stringify(binds),
			JSON.stringify(environment),
			cwd,
			file,
			...args,
		],
		{
			stdio: ['ignore', 'pipe', 'pipe'],
			env: { PATH: process.env.PATH ?? '' },
			timeout,
			killSignal: 'SIGTERM',
		},
	);
	const chunks = [];
	child.stdout.on('data', (chunk) => chunks.push(chunk));
	child.stderr.on('data', (chunk) => chunks.push(chunk));
	return new Promise((resolve, reject) => {
		child.on('error', reject);
		child.on('close', (code, signal) => resolve({ exitCode: code ?? (signal ? 128 : 1), output: Buffer.concat(chunks).toString('utf8') }));
	});
}
