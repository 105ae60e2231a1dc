import { chmod, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { execa, type ResultPromise } from 'execa';
import type { RemoteSession } from '@spyder-remote/client';
import { pino } from 'pino';
import { markHandedOver, reapLeftovers } from '../server/src/daemon/leftovers.js';
import { runAs } from './helpers/as-user.js';
import { startDaemonProcess, type DaemonProcess } from './helpers/daemon-process.js';
import { withTestUsers, type TestUser } from './helpers/os-users.js';
import { requireRoot } from './helpers/root.js';

const newUser = withTestUsers(test);

test.before(() => {
	requireRoot('leftover tests need root: they create OS users and kill their processes');
});

interface LiveProcess {
	readonly pid: number;
	readonly uid: number;
	readonly pgid: number;
}

/** Processes that have not exited. Zombies have: this machine's init may never clear them, and no signal reaches them. */
async function liveProcesses(): Promise<LiveProcess[]> {
	const found: LiveProcess[] = [];
	for (const name of await readdir('/proc')) {
		if (!/^\d+$/.test(name)) continue;
		try {
			const fields = (await readFile(`/proc/${name}/stat`, 'utf8')).split(') ').at(-1)!.split(' ');
			if (fields[0] === 'Z') continue;
			const uid = /^Uid:\s+(\d+)/m.exec(await readFile(`/proc/${name}/status`, 'utf8'))![1]!;
			found.push({ pid: Number(name), uid: Number(uid), pgid: Number(fields[2]) });
		} catch {
			// Exited while being read.
		}
	}
	return found;
}

const alive = async (pid: number) => (await liveProcesses()).some((entry) => entry.pid === pid);
async function eventually(check: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
	for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; await new Promise((resolve) => setTimeout(resolve, 100))) if (await check()) return true;
	return false;
}
const exists = (path: string) =>
	stat(path).then(
		() => true,
		() => false,
	);
const hostSockets = async (directory: string) => (await readdir(directory)).filter((name) => name.endsWith('.sock'));

/** A directory for one daemon's state and runtime, reachable by session hosts, removed after the test with whatever it started. */
async function daemonDirectory(t: ExecutionContext): Promise<{ directory: string; daemons: DaemonProcess[] }> {
	const directory = await mkdtemp(join(tmpdir(), 'ssd-leftovers-'));
	await chmod(directory, 0o711);
	const daemons: DaemonProcess[] = [];
	t.teardown(async () => {
		for (const daemon of daemons) await daemon.kill();
		await rm(directory, { recursive: true, force: true });
	});
	return { directory, daemons };
}

async function loginAndStartKernel(
	daemon: DaemonProcess,
	user: TestUser,
): Promise<{ session: RemoteSession; hostPid: number; kernelPid: number; kernelId: string }> {
	const session = await daemon.open();
	await session.loginWithPassword(user.name, user.password);
	const system = (await session.listEnvironments()).find((environment) => environment.kind === 'system')!;
	const kernel = await session.startKernel({ environment: system.id, kind: 'ipykernel' });
	return { session, hostPid: (await session.whoami()).pid, kernelPid: kernel.pid!, kernelId: kernel.id };
}

/** The one summary line the new daemon logged for this user's leftovers. */
function summaryFor(daemon: DaemonProcess, user: TestUser) {
	const lines = daemon.log.filter((line) => line.msg === 'stopped leftover session hosts and kernels' && line.uid === user.uid);
	return lines.map(({ hosts, kernels, directories, sockets }) => ({ hosts, kernels, directories, sockets }));
}

test('kernels of a killed daemon and session host are stopped by the next daemon, and their files removed', async (t) => {
	const user = await newUser();
	const { directory, daemons } = await daemonDirectory(t);
	const first = await startDaemonProcess(directory);
	daemons.push(first);
	const { session, hostPid, kernelPid, kernelId } = await loginAndStartKernel(first, user);
	const userDirectory = join(directory, 'run', 'sessions', String(user.uid));
	const kernelDirectory = join(userDirectory, 'kernels', kernelId);
	t.true(await exists(kernelDirectory));
	t.is((await hostSockets(userDirectory)).length, 1);
	session.destroy();

	// The host first: it polls for its daemon every second and would stop its kernels itself.
	process.kill(hostPid, 'SIGKILL');
	await first.kill('SIGKILL');
	t.true(await eventually(async () => !(await alive(hostPid)), 2000));
	t.true(await alive(kernelPid), 'with its host killed, the kernel runs on unsupervised');

	const second = await startDaemonProcess(directory);
	daemons.push(second);
	// Ready means reaped: the daemon listens for sessions only after its reapers are done.
	t.false(
		(await liveProcesses()).some((entry) => entry.pgid === kernelPid),
		'the kernel process group is gone',
	);
	t.false(await exists(kernelDirectory));
	t.deepEqual(await hostSockets(userDirectory), []);
	t.deepEqual(
		(await liveProcesses()).filter((entry) => entry.uid === user.uid),
		[],
		'nothing of the user runs',
	);
	t.deepEqual(summaryFor(second, user), [{ hosts: 0, kernels: 1, directories: 1, sockets: 1 }]);

	// And the user can work again at once.
	const again = await loginAndStartKernel(second, user);
	t.not(again.kernelPid, kernelPid);
	again.session.destroy();
});

test('a session host that outlived its daemon is stopped, and its kernel with it', async (t) => {
	const user = await newUser();
	const { directory, daemons } = await daemonDirectory(t);
	const first = await startDaemonProcess(directory);
	daemons.push(first);
	const { session, hostPid, kernelPid } = await loginAndStartKernel(first, user);
	session.destroy();
	// Stopped, the host cannot notice that its daemon is gone: only the reaper, which finds it by its command line, can end it.
	process.kill(hostPid, 'SIGSTOP');
	await first.kill('SIGKILL');

	const second = await startDaemonProcess(directory);
	daemons.push(second);
	t.false(await alive(hostPid));
	t.false((await liveProcesses()).some((entry) => entry.pgid === kernelPid));
	t.deepEqual(
		(await liveProcesses()).filter((entry) => entry.uid === user.uid),
		[],
	);
	t.deepEqual(summaryFor(second, user), [{ hosts: 1, kernels: 1, directories: 1, sockets: 1 }]);
});

test("the reaper signals only its user's processes, whatever their command lines say", async (t) => {
	const [alice, bob] = await Promise.all([newUser(), newUser()]);
	const { directory, daemons } = await daemonDirectory(t);
	const first = await startDaemonProcess(directory);
	daemons.push(first);
	const session = await first.open();
	await session.loginWithPassword(alice.name, alice.password);
	await session.close();
	const kernelDirectory = join(directory, 'run', 'sessions', String(alice.uid), 'kernels', '0123456789abcdef');
	await runAs(alice, '/usr/bin/mkdir', ['-p', '--', kernelDirectory]);
	// A kernel's command line on that directory's connection file, three times: alice's own, bob's and root's.
	// Each in a group of its own, as a kernel is, so that a wrong group signal could not reach this test's process.
	const sleeper = ['-c', 'import time; time.sleep(600)', '-f', join(kernelDirectory, 'connection.json')];
	const own = runAs(alice, '/usr/bin/python3', sleeper, { detached: true, reject: false });
	const others: ResultPromise[] = [
		runAs(bob, '/usr/bin/python3', sleeper, { detached: true, reject: false }),
		execa('/usr/bin/python3', sleeper, { detached: true, reject: false }),
	];
	t.teardown(async () => {
		for (const child of [own, ...others]) child.kill('SIGKILL');
		await Promise.all([own, ...others]);
	});
	// A clean stop: the host removes its socket, and only alice's forged kernel directory is left, which the
	// stopping daemon reaps, as it reaps the kernels of a host it had to kill: a stop leaves nothing running.
	await first.kill();

	const second = await startDaemonProcess(directory);
	daemons.push(second);
	t.false(await alive(own.pid!), "alice's process, to all appearances a kernel of hers, was stopped");
	for (const other of others) t.true(await alive(other.pid!), `pid ${other.pid} of another user still runs`);
	t.false(await exists(kernelDirectory));
	t.deepEqual(summaryFor(first, alice), [{ hosts: 0, kernels: 1, directories: 1, sockets: 0 }]);
	t.deepEqual(summaryFor(second, alice), [], 'nothing was left for the next daemon');
});

test('a hand-over mark counts only in a runtime directory that is root’s alone: in one a user could write, a planted mark is not believed', async (t) => {
	const records: { msg: string }[] = [];
	const logger = pino({ level: 'info' }, { write: (line: string) => void records.push(JSON.parse(line) as { msg: string }) });
	const restarted = () => records.some((record) => record.msg.startsWith('the earlier daemon restarted'));
	const runtimeDir = await mkdtemp(join(tmpdir(), 'ssdt-handover-'));
	t.teardown(() => rm(runtimeDir, { recursive: true, force: true }));

	// What a user who could write the directory would plant: a root-owned regular file by the mark's name.
	await chmod(runtimeDir, 0o1777);
	t.false(await markHandedOver(runtimeDir, logger), 'no mark is written where others may write');
	await writeFile(join(runtimeDir, 'handed-over'), '');
	await reapLeftovers({ system: true, runtimeDir, logger });
	t.false(restarted(), 'the planted mark forges no hand-over');

	await rm(join(runtimeDir, 'handed-over'));
	await chmod(runtimeDir, 0o711);
	t.true(await markHandedOver(runtimeDir, logger));
	await reapLeftovers({ system: true, runtimeDir, logger });
	t.true(restarted(), "in root's own directory the mark is taken");
	await t.throwsAsync(stat(join(runtimeDir, 'handed-over')), { code: 'ENOENT' }, 'and counts once');
});
