import { chmod, chown, lstat, mkdir, mkdtemp, readdir, readFile, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { placeApp } from '../server/src/install/app-tree.js';
import { InstallError } from '../server/src/install/install-error.js';
import { withTestUsers } from './helpers/os-users.js';
import { requireRoot } from './helpers/root.js';

/**
 * Root must never run the daemon from a tree a user can write: `ssd-server install` uses the app
 * where it is only when only root can change it, and otherwise copies it where only root can write.
 * Real files with real owners; the copy goes to a directory of the test's instead of /opt.
 */
const newUser = withTestUsers(test);

test.before(() => {
	requireRoot('the installer tests need root: they give files to OS users');
});

/** A minimal app tree (node_modules/ and dist/bin/ssd-server.js), and a place for copies. */
async function appTree(t: ExecutionContext): Promise<{ base: string; app: string; entryPoint: string; copyDirectory: string }> {
	const base = await realpath(await mkdtemp(join(tmpdir(), 'ssd-app-tree-')));
	t.teardown(() => rm(base, { recursive: true, force: true }));
	const app = join(base, 'app');
	await mkdir(join(app, 'node_modules', 'dep'), { recursive: true, mode: 0o755 });
	await mkdir(join(app, 'dist', 'bin'), { recursive: true, mode: 0o755 });
	const entryPoint = join(app, 'dist', 'bin', 'ssd-server.js');
	await writeFile(entryPoint, '// the daemon\n', { mode: 0o644 });
	await writeFile(join(app, 'node_modules', 'dep', 'index.js'), '// a dependency\n', { mode: 0o644 });
	return { base, app, entryPoint, copyDirectory: join(base, 'opt') };
}

/** Every entry below `directory`: root's, writable by root alone, no set-id bit. */
async function rootOnly(directory: string): Promise<string[]> {
	const faults: string[] = [];
	for (const entry of await readdir(directory, { recursive: true })) {
		const info = await lstat(join(directory, entry));
		if (info.uid !== 0 || info.gid !== 0 || (!info.isSymbolicLink() && (info.mode & 0o6022) !== 0))
			faults.push(`${entry} ${info.uid}:${info.gid} ${(info.mode & 0o7777).toString(8)}`);
	}
	return faults;
}

test('a tree only root can change is used where it is', async (t) => {
	const { entryPoint, copyDirectory } = await appTree(t);
	const placed = await placeApp({ entryPoint, copyDirectory });
	t.is(placed.entry, entryPoint);
	t.is(placed.copiedTo, undefined);
	t.is(placed.node, await realpath(process.execPath));
});

test("a tree a user owns is copied, made root's, and set-id bits are dropped", async (t) => {
	const user = await newUser();
	const { app, entryPoint, copyDirectory } = await appTree(t);
	// The user's planted set-uid program: made root's as it was, it would be a root shell for them.
	await writeFile(join(app, 'node_modules', 'dep', 'tool'), '#!/bin/true\n', { mode: 0o4777 });
	for (const entry of ['', ...(await readdir(app, { recursive: true }))]) await chown(join(app, entry), user.uid, user.gid);
	const placed = await placeApp({ entryPoint, copyDirectory });
	t.truthy(placed.copiedTo);
	t.is(placed.entry, join(placed.copiedTo!, 'dist', 'bin', 'ssd-server.js'));
	t.deepEqual(await rootOnly(placed.copiedTo!), []);
	t.is((await lstat(join(placed.copiedTo!, 'node_modules', 'dep', 'tool'))).mode & 0o7777, 0o755);
	// Installed again, unchanged: the copy the service runs is not touched. Changed (an upgrade): replaced whole.
	const entryInode = (await lstat(placed.entry)).ino;
	t.deepEqual(await placeApp({ entryPoint, copyDirectory }), placed);
	t.is((await lstat(placed.entry)).ino, entryInode, 'the same app is not copied again');
	await writeFile(entryPoint, '// the daemon, next version\n');
	await placeApp({ entryPoint, copyDirectory });
	t.is(await readFile(placed.entry, 'utf8'), '// the daemon, next version\n');
	t.deepEqual(await readdir(copyDirectory), [basename(placed.copiedTo!)], 'no staging or old tree is left');
	t.deepEqual(await rootOnly(placed.copiedTo!), []);
});

test('a root-owned tree below a directory others can write is copied', async (t) => {
	const { base, entryPoint, copyDirectory } = await appTree(t);
	await chmod(base, 0o777);
	const placed = await placeApp({ entryPoint, copyDirectory });
	t.truthy(placed.copiedTo, 'whoever can write the parent can swap the whole tree');
	t.deepEqual(await rootOnly(placed.copiedTo!), []);
});

test('a link from the tree into a directory a user can write is refused', async (t) => {
	const user = await newUser();
	const { app, entryPoint, copyDirectory } = await appTree(t);
	await symlink(user.home, join(app, 'node_modules', 'planted'));
	const error = await t.throwsAsync(placeApp({ entryPoint, copyDirectory }), { instanceOf: InstallError });
	t.regex(error!.message, /links into trees others can write/);
});
