#!/usr/bin/env node
/**
 * `npm run release`: every release asset into one folder (release/ unless --out DIR), each with
 * its .sha256, and manifest.json. Expects the TypeScript build (`npm run release` runs tsc -b
 * first). Node runtimes come from the cache (see runtime.mjs); the rest is rebuilt each time.
 */
import { mkdir, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { createArchive } from './archive.mjs';
import { describeAsset, writeManifest } from './manifest.mjs';
import { repositoryRoot } from './paths.mjs';
import { serverPlatforms } from './platforms.mjs';
import { serverVersion, writeServerTree } from './server-tree.mjs';

/** The folder name of the server for `platform`, which is also its archive's name without the extension. */
export const serverAssetName = (version, platform) => `ssd-server-${version}-${platform.id}`;

/** Builds every asset into `out`, emptied first; returns the manifest entries. */
export async function buildRelease(out) {
	await rm(out, { recursive: true, force: true });
	const staging = join(out, '.staging');
	await mkdir(staging, { recursive: true });
	const assets = [];
	const version = await serverVersion();
	for (const platform of serverPlatforms) {
		const name = serverAssetName(version, platform);
		await writeServerTree(platform, join(staging, name));
		const file = join(out, `${name}.${platform.archive}`);
		await createArchive(join(staging, name), file, platform.archive);
		assets.push(await describeAsset(file, { kind: 'server', version, platform: platform.id }));
	}
	await rm(staging, { recursive: true, force: true });
	await writeManifest(out, assets);
	return assets;
}

if (import.meta.url === `file://${process.argv[1]}`) {
	const { values } = parseArgs({ options: { out: { type: 'string' } } });
	const out = resolve(values.out ?? join(repositoryRoot, 'release'));
	const assets = await buildRelease(out);
	for (const asset of assets) process.stdout.write(`${asset.name}  ${(asset.size / 1e6).toFixed(1)} MB\n`);
	process.stdout.write(`${assets.length} assets in ${out}\n`);
}
