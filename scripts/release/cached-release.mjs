/**
 * A release built once per state of its inputs, for the tests: the build takes minutes (a dozen
 * archives of a 90 MB Node each), the checks on it seconds. The key is a hash of every file the
 * build reads (the workspaces' dist/, the PAM file and units, the plugin's sources, the release
 * scripts, which pin the Node version, and the lockfile), so a cached build is the one this
 * checkout would make. Only the newest build is kept: each is about 400 MB.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rename, rm, stat } from 'node:fs/promises';
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

/** A partial build older than this is one that died; younger ones may be another run's, still going. */
const abandonedAfterMs = 60 * 60_000;

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
		await removeOtherBuilds(builds, directory);
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

async function removeOtherBuilds(builds, keep) {
	for (const name of await readdir(builds)) {
		const path = join(builds, name);
		if (path === keep) continue;
		if (name.startsWith('partial-') && Date.now() - (await stat(path)).mtimeMs < abandonedAfterMs) continue;
		await rm(path, { recursive: true, force: true });
	}
}
