/** manifest.json: what the release folder holds, one entry per asset, for download pages and scripts. */
import { stat, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { writeChecksum } from './checksums.mjs';

export const MANIFEST_NAME = 'manifest.json';

/**
 * The entry for one built asset, after writing its .sha256.
 * @param {string} file @param {{ kind: string, version: string, platform: string }} facts
 */
export async function describeAsset(file, facts) {
	const [{ size }, sha256] = await Promise.all([stat(file), writeChecksum(file)]);
	return { name: basename(file), kind: facts.kind, version: facts.version, platform: facts.platform, size, sha256 };
}

export async function writeManifest(directory, assets) {
	const sorted = [...assets].sort((a, b) => a.name.localeCompare(b.name));
	await writeFile(join(directory, MANIFEST_NAME), `${JSON.stringify({ assets: sorted }, null, '\t')}\n`);
}
