/**
 * The package.json at the top of a bundled tree. The bundles read their version from it, by the
 * same relative path as in the workspace, and Node takes their .js files as ESM because of it.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** @param {string} root @param {{ name: string, version: string, description: string, license: string }} source the workspace package's manifest */
export async function writeBundlePackage(root, source) {
	const manifest = { name: source.name, version: source.version, description: source.description, license: source.license, private: true, type: 'module' };
	await writeFile(join(root, 'package.json'), `${JSON.stringify(manifest, null, '\t')}\n`);
}
