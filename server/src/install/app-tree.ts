import { chmod, cp, lchown, lstat, readdir, readFile, readlink, realpath, rename, rm, stat } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { SERVER_VERSION } from '../common/version.js';
import { InstallError } from './install-error.js';
import { APP_COPY_DIRECTORY, daemonEntry } from './locations.js';

/** What the unit runs: a Node binary and the daemon's entry point, both in trees only root can write. */
export interface AppLocation {
	readonly node: string;
	readonly entry: string;
	/** Set when the app had to be copied there first. */
	readonly copiedTo?: string;
}

const groupOrOtherWrite = 0o022;
const sticky = 0o1000;

/**
 * Whether only root can change what `path` names: each directory from it up
 * to / is root's and writable by nobody else, except a sticky one (/tmp),
 * where others cannot rename or remove root's entries.
 */
async function rootOnlyPath(path: string): Promise<boolean> {
	for (let current = path; ; current = dirname(current)) {
		const info = await lstat(current);
		if (info.uid !== 0 || ((info.mode & groupOrOtherWrite) !== 0 && !(info.isDirectory() && (info.mode & sticky) !== 0 && current !== path))) return false;
		if (current === dirname(current)) return true;
	}
}

/**
 * Whether every entry below `directory` is root's and, but for links,
 * writable by nobody else; a link must lead into `root` or to a path only
 * root can change (npm's workspace links stay inside a checkout).
 */
async function rootOnlyTree(directory: string, root = directory): Promise<boolean> {
	for (const entry of await readdir(directory, { withFileTypes: true })) {
		const path = join(directory, entry.name);
		const info = await lstat(path);
		if (info.uid !== 0) return false;
		if (info.isSymbolicLink()) {
			const target = await realpath(path).catch(() => undefined);
			// A dangling link leads nowhere root would run from.
			if (target !== undefined && !inside(root, target) && !(await rootOnlyPath(target))) return false;
			continue;
		}
		if ((info.mode & groupOrOtherWrite) !== 0) return false;
		if (info.isDirectory() && !(await rootOnlyTree(path, root))) return false;
	}
	return true;
}

const inside = (root: string, path: string) => path === root || !relative(root, path).startsWith('..');

/** The app's tree: the nearest directory above the entry point that holds its dependencies. */
async function appRoot(entry: string): Promise<string> {
	for (let current = dirname(entry); current !== dirname(current); current = dirname(current)) {
		if ((await stat(join(current, 'node_modules')).catch(() => undefined))?.isDirectory()) return current;
	}
	throw new InstallError(`no node_modules above ${entry}: this is neither a built checkout nor an unpacked release`);
}

/** Makes a copied tree root's and writable by root alone. */
async function makeRootOnly(directory: string): Promise<void> {
	for (const entry of await readdir(directory, { withFileTypes: true })) {
		const path = join(directory, entry.name);
		await lchown(path, 0, 0);
		if (entry.isSymbolicLink()) continue;
		const info = await lstat(path);
		// No set-id bits: a user's file made root's must not become a set-uid-root program.
		await chmod(path, info.mode & 0o755);
		if (entry.isDirectory()) await makeRootOnly(path);
	}
}

/**
 * Where the unit will find the app. Root must never run code from a tree a
 * user can write, so the tree the installer runs from is used in place only
 * when it is root's alone (a checkout or archive root unpacked in /opt, say);
 * otherwise it is copied to /opt/spyder-remote/ssd-server-<version> first.
 * The parameters are for the test (test/install-app-tree.test.ts).
 */
export async function placeApp({ entryPoint = daemonEntry, nodeBinary = process.execPath, copyDirectory = APP_COPY_DIRECTORY } = {}): Promise<AppLocation> {
	const node = await realpath(nodeBinary);
	const entry = await realpath(entryPoint);
	const root = await appRoot(entry);
	const nodeInTree = inside(root, node);
	if ((await rootOnlyPath(root)) && (await rootOnlyTree(root)) && (nodeInTree || (await rootOnlyPath(node)))) return { node, entry };
	if (!nodeInTree && !(await rootOnlyPath(node)))
		throw new InstallError(
			`${node} (this Node) lies in a tree others can write, and outside the app: install Node where only root can write, or use the release archive`,
		);
	const copy = join(copyDirectory, `ssd-server-${SERVER_VERSION}`);
	// The same app installed again: the copy the service runs is left alone (installing twice changes nothing).
	if (!(await sameTree(root, copy))) await replaceCopy(root, copy, copyDirectory);
	// A link the copy keeps must still lead somewhere only root controls.
	if (!(await rootOnlyTree(copy))) throw new InstallError(`${root} holds links into trees others can write: it cannot be installed`);
	return { node: nodeInTree ? join(copy, relative(root, node)) : node, entry: join(copy, relative(root, entry)), copiedTo: copy };
}

/**
 * Copies `root` beside `copy`, makes it root's, and swaps it in with two
 * renames, so that a running service never meets a half-written tree.
 */
async function replaceCopy(root: string, copy: string, copyDirectory: string): Promise<void> {
	const staging = `${copy}.new`;
	const old = `${copy}.old`;
	await rm(staging, { recursive: true, force: true });
	await rm(old, { recursive: true, force: true });
	await cp(root, staging, { recursive: true, verbatimSymlinks: true });
	await chmod(copyDirectory, 0o755);
	await makeRootOnly(staging);
	await chmod(staging, 0o755);
	if (await lstat(copy).catch(() => undefined)) await rename(copy, old);
	await rename(staging, copy);
	await rm(old, { recursive: true, force: true });
}

/** Whether two trees hold the same names, kinds, link targets and file contents. */
async function sameTree(a: string, b: string): Promise<boolean> {
	const names = async (directory: string) => (await readdir(directory, { recursive: true }).catch(() => undefined))?.sort();
	const [left, right] = await Promise.all([names(a), names(b)]);
	if (!left || !right || left.length !== right.length || left.some((name, index) => name !== right[index])) return false;
	for (const name of left) {
		const [x, y] = await Promise.all([lstat(join(a, name)), lstat(join(b, name))]);
		if (x.isSymbolicLink() !== y.isSymbolicLink() || x.isDirectory() !== y.isDirectory() || (x.mode & 0o111) !== (y.mode & 0o111)) return false;
		if (x.isSymbolicLink() && (await readlink(join(a, name))) !== (await readlink(join(b, name)))) return false;
		if (x.isFile() && (x.size !== y.size || !(await readFile(join(a, name))).equals(await readFile(join(b, name))))) return false;
	}
	return true;
}

/** Removes the copy placeApp made, if any. */
export async function removeAppCopy(): Promise<string | undefined> {
	if (!(await lstat(APP_COPY_DIRECTORY).catch(() => undefined))) return undefined;
	await rm(APP_COPY_DIRECTORY, { recursive: true, force: true });
	return `removed ${APP_COPY_DIRECTORY}`;
}
