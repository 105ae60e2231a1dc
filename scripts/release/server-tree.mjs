/**
 * The server's folder, as the archive unpacks and the Debian package installs it:
 *
 *   bin/ssd-server           launcher: the bundled Node on lib/bin/ssd-server.js
 *   install.sh               `bin/ssd-server install`, for the admin
 *   lib/bin/*.js             the four entry points, bundled (they start one another by path)
 *   node_modules/koffi/      what cannot be bundled, with the native binary of this platform only
 *   node/                    the Node runtime
 *   package.json             name, version and "type": "module", read by the bundles
 *   pam/, systemd/           the PAM service file and the units
 */
import { existsSync } from 'node:fs';
import { cp, mkdir, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { bundleServer } from './bundle.mjs';
import { writeBundlePackage } from './bundle-package.mjs';
import { writeInstallScript, writeLauncher } from './launchers.mjs';
import { repositoryRoot } from './paths.mjs';
import { installRuntime } from './runtime.mjs';

const serverPackage = join(repositoryRoot, 'server');

export async function serverVersion() {
	return JSON.parse(await readFile(join(serverPackage, 'package.json'), 'utf8')).version;
}

/**
 * Lays out the server for `platform` in `root` (which must not exist yet). The Debian package
 * leaves out install.sh: its postinst installs.
 * @param {import('./platforms.mjs').Platform} platform
 */
export async function writeServerTree(platform, root, { installScript = true } = {}) {
	const manifest = JSON.parse(await readFile(join(serverPackage, 'package.json'), 'utf8'));
	await mkdir(root, { recursive: true });
	await bundleServer(root);
	await writeBundlePackage(root, manifest);
	await cp(join(serverPackage, 'pam'), join(root, 'pam'), { recursive: true });
	// The units come with `ssd-server install`; a tree built before they exist simply has none.
	if (existsSync(join(serverPackage, 'systemd'))) await cp(join(serverPackage, 'systemd'), join(root, 'systemd'), { recursive: true });
	await copyKoffi(platform, join(root, 'node_modules', 'koffi'));
	await installRuntime(platform, root);
	await writeLauncher(platform, root, 'ssd-server', 'lib/bin/ssd-server.js');
	if (installScript) await writeInstallScript(root);
}

/** koffi's loader, its licence, and the one prebuilt binary this platform loads (of 18 in the package). */
async function copyKoffi(platform, target) {
	const source = dirname(createRequire(join(serverPackage, 'package.json')).resolve('koffi/package.json'));
	for (const file of ['package.json', 'index.js', 'LICENSE.txt', join('build', 'koffi', platform.koffi, 'koffi.node')]) {
		await cp(join(source, file), join(target, file));
	}
}
