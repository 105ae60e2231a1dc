#!/usr/bin/env node
/**
 * `npm run release`: every release asset into one folder (release/ unless --out DIR), each with
 * its .sha256, and manifest.json. Expects the TypeScript build (`npm run release` runs tsc -b
 * first). Node runtimes come from the cache (see runtime.mjs); the rest is rebuilt each time.
 */
import { execFile } from 'node:child_process';
import { mkdir, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { createArchive } from './archive.mjs';
import { clientVersion, writeClientTree } from './client-tree.mjs';
import { writeDeb } from './deb.mjs';
import { describeAsset, writeManifest } from './manifest.mjs';
import { repositoryRoot } from './paths.mjs';
import { platforms, serverPlatforms } from './platforms.mjs';
import { serverVersion, writeServerTree } from './server-tree.mjs';
import { wheelVersion, writeWheel } from './wheel.mjs';

const run = promisify(execFile);

/** The folder name of the server for `platform`, which is also its archive's name without the extension. */
export const serverAssetName = (version, platform) => `ssd-server-${version}-${platform.id}`;
/** The same for the client. */
export const clientAssetName = (version, platform) => `ssd-${version}-${platform.id}`;

/** The workspaces published to the npm registry; the conformance suite too: implementers of other servers install it on its own. */
export const npmWorkspaces = ['protocol', 'client-lib', 'server', 'spec/conformance'];

/** Each kind of asset: its folders laid out under `staging`, its files written to `out`. */
const builders = [
	(out, staging) =>
		archives(out, staging, { kind: 'server', version: serverVersion, platforms: serverPlatforms, name: serverAssetName, write: writeServerTree }),
	(out, staging) => archives(out, staging, { kind: 'client', version: clientVersion, platforms, name: clientAssetName, write: writeClientTree }),
	async function debianPackages(out, staging) {
		const version = await serverVersion();
		const assets = [];
		for (const platform of serverPlatforms.filter((candidate) => candidate.id === 'linux-x64')) {
			assets.push(await describeAsset(await writeDeb(platform, version, staging, out), { kind: 'debian', version, platform: platform.id }));
		}
		return assets;
	},
	async function wheels(out, staging) {
		const assets = [];
		for (const platform of platforms) {
			const file = await writeWheel(platform, staging, out);
			assets.push(await describeAsset(file, { kind: 'spyder-plugin', version: wheelVersion(file), platform: platform.id }));
		}
		return assets;
	},
	async function npmPackages(out) {
		// The same four packages test/packaging.test.ts installs into an empty project.
		const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', out, ...npmWorkspaces.flatMap((name) => ['--workspace', name])], {
			cwd: repositoryRoot,
			maxBuffer: 64 << 20,
		});
		return Promise.all(
			JSON.parse(stdout).map((packed) => describeAsset(join(out, packed.filename), { kind: 'npm', version: packed.version, platform: 'any' })),
		);
	},
];

/** One archive per platform of a folder that `kind.write` lays out. */
async function archives(out, staging, kind) {
	const version = await kind.version();
	const assets = [];
	for (const platform of kind.platforms) {
		const folder = join(staging, kind.name(version, platform));
		await kind.write(platform, folder);
		assets.push(await archive(folder, out, platform, { kind: kind.kind, version }));
	}
	return assets;
}

async function archive(folder, out, platform, facts) {
	const file = join(out, `${folder.split('/').pop()}.${platform.archive}`);
	await createArchive(folder, file, platform.archive);
	// The unpacked copy is only needed until it is archived; the staging folder would hold 2 GB otherwise.
	await rm(folder, { recursive: true });
	return describeAsset(file, { ...facts, platform: platform.id });
}

/** Builds every asset into `out`, emptied first; returns the manifest entries. */
export async function buildRelease(out) {
	await rm(out, { recursive: true, force: true });
	const staging = join(out, '.staging');
	await mkdir(staging, { recursive: true });
	const assets = [];
	for (const build of builders) assets.push(...(await build(out, staging)));
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
