/**
 * spyder-remote-server_M.m.p-1_<arch>.deb, built with dpkg-deb from the server's folder
 * (server-tree.mjs) installed as /usr/lib/spyder-remote-server, with /usr/sbin/ssd-server
 * linked to its launcher. It carries its own Node: Debian 12 ships Node 18 and the server needs
 * 20, so a dependency on nodejs (>= 20) could not be met on the release the servers run.
 * The maintainer scripts (files/deb/) call `ssd-server install` and `uninstall`.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, copyFile, mkdir, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { writeServerTree } from './server-tree.mjs';

const run = promisify(execFile);
const files = join(dirname(fileURLToPath(import.meta.url)), 'files', 'deb');

const PACKAGE_NAME = 'spyder-remote-server';
const INSTALL_DIRECTORY = `/usr/lib/${PACKAGE_NAME}`;
const maintainer = 'spyder-remote maintainers <maintainers@users.noreply.r-seed-e92c722d.example>';

/** The Debian revision of the package: the first packaging of each upstream version. */
const revision = '1';

const debName = (version, platform) => `${PACKAGE_NAME}_${version}-${revision}_${platform.debianArch}.deb`;

/**
 * Builds the package for `platform` under `staging` into `out`; returns its path.
 * @param {import('./platforms.mjs').Platform} platform
 */
export async function writeDeb(platform, version, staging, out) {
	const root = join(staging, `deb-${platform.debianArch}`);
	await writeServerTree(platform, join(root, INSTALL_DIRECTORY), { installScript: false });
	await mkdir(join(root, 'usr/sbin'), { recursive: true });
	await symlink(relative(join(root, 'usr/sbin'), join(root, INSTALL_DIRECTORY, 'bin/ssd-server')), join(root, 'usr/sbin/ssd-server'));
	await writeDocs(root, version);
	await mkdir(join(root, 'usr/share/lintian/overrides'), { recursive: true });
	await copyFile(join(files, 'lintian-overrides'), join(root, 'usr/share/lintian/overrides', PACKAGE_NAME));
	await writeControl(root, platform, version);
	const file = join(out, debName(version, platform));
	// gzip, not xz: xz takes a minute and a half over Node's 100 MB on a small build machine.
	await run('dpkg-deb', ['--root-owner-group', '-Zgzip', '--build', root, file]);
	await rm(root, { recursive: true });
	return file;
}

async function writeDocs(root, version) {
	const doc = join(root, 'usr/share/doc', PACKAGE_NAME);
	await mkdir(doc, { recursive: true });
	await copyFile(join(files, 'copyright'), join(doc, 'copyright'));
	const man = join(root, 'usr/share/man/man8');
	await mkdir(man, { recursive: true });
	await writeFile(join(man, 'ssd-server.8.gz'), gzipSync(await readFile(join(files, 'ssd-server.8')), { level: 9 }));
	const changelog = `${PACKAGE_NAME} (${version}-${revision}) unstable; urgency=medium\n\n  * Release ${version}, built by npm run release.\n\n -- ${maintainer}  ${rfc2822(new Date())}\n`;
	await writeFile(join(doc, 'changelog.Debian.gz'), gzipSync(changelog, { level: 9 }));
}

async function writeControl(root, platform, version) {
	const control = join(root, 'DEBIAN');
	await mkdir(control, { recursive: true });
	const installedKiB = Math.ceil((await sizeOf(root)) / 1024);
	const fields = [
		`Package: ${PACKAGE_NAME}`,
		`Version: ${version}-${revision}`,
		`Architecture: ${platform.debianArch}`,
		`Maintainer: ${maintainer}`,
		`Installed-Size: ${installedKiB}`,
		// Node's own needs (glibc 2.28, libstdc++), PAM (koffi loads libpam.so.0) and systemd for the service; setpriv is in util-linux, which is essential.
		'Depends: libc6 (>= 2.28), libgcc-s1, libstdc++6, libpam0g, libpam-runtime, systemd',
		'Recommends: python3-ipykernel',
		'Suggests: python3-spyder-kernels',
		'Section: net',
		'Priority: optional',
		'Description: remote Python kernels for Spyder, over one authenticated TLS connection',
		' ssd-server lets people log in with their own account on this machine and start',
		' Python environments and Jupyter kernels there, as themselves, from Spyder on',
		' their laptop. It runs as a systemd service; logins go through PAM.',
		' .',
		' This package carries its own Node.js runtime.',
	];
	await writeFile(join(control, 'control'), `${fields.join('\n')}\n`);
	for (const script of ['postinst', 'prerm', 'postrm']) {
		await copyFile(join(files, script), join(control, script));
		await chmod(join(control, script), 0o755);
	}
	await writeFile(join(control, 'md5sums'), await md5sums(root));
}

/** DEBIAN/md5sums: every regular file but the control area, as dpkg --verify reads it. */
async function md5sums(root) {
	const lines = [];
	for (const path of await regularFiles(root)) {
		if (relative(root, path).startsWith('DEBIAN')) continue;
		lines.push(
			`${createHash('md5')
				.update(await readFile(path))
				.digest('hex')}  ${relative(root, path)}`,
		);
	}
	return `${lines.sort((a, b) => a.slice(34).localeCompare(b.slice(34))).join('\n')}\n`;
}

async function regularFiles(root) {
	const entries = await readdir(root, { recursive: true, withFileTypes: true });
	return entries.filter((entry) => entry.isFile()).map((entry) => join(entry.parentPath, entry.name));
}

async function sizeOf(root) {
	let total = 0;
	for (const path of await regularFiles(root)) total += (await readFile(path)).length;
	return total;
}

/** The changelog's date format (RFC 2822), as `date -R` prints it. */
function rfc2822(date) {
	return date.toUTCString().replace(/GMT$/, '+0000');
}
