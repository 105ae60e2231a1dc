/**
 * The test users of runs that go on at the same time, on this machine and
 * in a Debian root (the Spyder 6 tests, test/helpers/spyder-in-root.ts):
 * the root has a passwd of its own but shares this machine's processes, so
 * removing a user here (helpers/os-users.ts kills its processes first) must
 * not reach the processes of a user made in the root.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { execa } from 'execa';
import { isBuilt, rootDirectory, runInRoot, spyderSuites } from '../scripts/debian-root.mjs';
import { createTestUser, deleteTestUser, type TestUser } from './helpers/os-users.js';
import { requireRoot } from './helpers/root.js';

const checkout = fileURLToPath(new URL('..', import.meta.url)).replace(/\/$/, '');
const suite = spyderSuites['6.0'];
const root = rootDirectory(suite);
const helper = `${checkout}/test/helpers/os-users.ts`;

/** Runs `call` on the os-users helper inside the root, on the root's Node.js, and returns what it resolved to. */
async function inRoot(call: string): Promise<unknown> {
	const script = `const users = await import(${JSON.stringify(helper)}); process.stdout.write(JSON.stringify(await users.${call}) ?? 'null');`;
	const run = await runInRoot(root, '/usr/bin/node', ['--import=tsx', '--input-type=module', '--eval', script], { binds: [checkout], cwd: checkout });
	if (run.exitCode !== 0) throw new Error(`in the ${suite} root: ${run.output}`);
	return JSON.parse(run.output);
}

test.before(() => {
	requireRoot('making OS users needs root');
	if (!isBuilt(suite)) throw new Error(`the ${suite} root is not built: npm test builds it (scripts/ensure-installed.mjs --tests)`);
});

test('removing a test user here leaves the processes of a test user of a Debian root alone', async (t) => {
	t.timeout(60_000);
	const theirs = (await inRoot('createTestUser()')) as TestUser;
	const ours = await createTestUser();
	// Stands for the root's session host and kernels: a process of the root's user, which this passwd does not know.
	const sleeper = execa('sleep', ['600'], { uid: theirs.uid, gid: theirs.gid, reject: false });
	try {
		t.not(ours.uid, theirs.uid);
		await deleteTestUser(ours);
		const ended = await Promise.race([sleeper.then(() => true), sleep(1000).then(() => false)]);
		t.false(ended, "the root's user's process was killed with ours");
	} finally {
		sleeper.kill('SIGKILL');
		await sleeper;
		await deleteTestUser(ours);
		await inRoot(`deleteTestUser(${JSON.stringify(theirs)})`);
	}
});
