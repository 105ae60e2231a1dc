/**
 * A release built once per state of its inputs, for the tests: the build takes minutes (a dozen
 * archives of a 90 MB Node each), the checks on it seconds. The key is a hash of every file the
 * build reads (the workspaces' dist/, the PAM file and units, the plugin's sources, the release
 * scripts, which pin the Node version, and the lockfile), so a cached build is the one this
 * checkout would make. Each is about 400 MB, so builds unused for an hour are removed (another
 * worktree's tests may be reading a younger one).
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rename, rm, stat, utimes } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { cacheDirectory } from './cache.mjs';
import { MANIFEST_NAME } from './manifest.mjs';
import { repositoryRoot } from './paths.mjs';
import { buildRelease } from './release.mjs';

const inputs = [
	'package-lock.json',
	'scripts/release',
	'protocol/package.json',
	'protocol/dist',
	'server/package.json',
	'server/dist',
	'server/pam',
	'server/systemd',
	'client-lib/package.json',
	'client-lib/dist',
	'spyder-bridge/package.json',
	'spyder-bridge/dist',
	'spyder-bridge/python/pyproject.toml',
	'spyder-bridge/python/README.md',
	'spyder-bridge/python/spyder_remote',
];

/** A build (or a partial one) untouched this long is no run's any more. */
const unusedAfterMs = 60 * 60_000;

/** The release folder and its manifest entries, built now if this state of the inputs has none. */
export async function cachedRelease() {
	const builds = join(cacheDirectory(), 'builds');
	const directory = join(builds, await inputsKey());
	const manifest = join(directory, MANIFEST_NAME);
	if (!existsSync(manifest)) {
		await mkdir(builds, { recursive: true });
		const scratch = await mkdtemp(join(builds, 'partial-'));
		await buildRelease(scratch);
		await rm(directory, { recursive: true, force: true });
		await rename(scratch, directory);
		await removeUnusedBuilds(builds, directory);
	} else {
		// Marks it as in use, for removeUnusedBuilds in other runs.
		const now = new Date();
		await utimes(directory, now, now);
	}
	return { directory, assets: JSON.parse(await readFile(manifest, 'utf8')).assets };
}

async function inputsKey() {
	const hash = createHash('sha256');
	for (const input of inputs) {
		for (const file of await filesBelow(join(repositoryRoot, input))) {
			hash.update(`${relative(repositoryRoot, file)}\0`);
			hash.update(await readFile(file));
		}
	}
	return hash.digest('hex').slice(0, 16);
}

/** The files at or below `path`, sorted; none if it does not exist (server/systemd before it does). */
async function filesBelow(path) {
	const info = await stat(path).catch(() => undefined);
	if (!info) return [];
	if (info.isFile()) return [path];
	const entries = await readdir(path, { recursive: true, withFileTypes: true });
	return entries
		.filter((entry) => entry.isFile() && !entry.parentPath.includes('__pycache__'))
		.map((entry) => join(entry.parentPath, entry.name))
		.sort();
}

async function removeUnusedBuilds(builds, keep) {
	for (const name of await readdir(builds)) {
		const path = join(builds, name);
		if (path === keep || Date.now() - (await stat(path)).mtimeMs < unusedAfterMs) continue;
		await rm(path, { recursive: true, force: true });
	}
}
