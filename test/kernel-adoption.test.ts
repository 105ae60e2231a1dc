import { chmod, mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { execa } from 'execa';
import { KernelForwarder, type RemoteSession } from '@spyder-remote/client';
import type { Kernel } from '@spyder-remote/protocol';
import { KernelClient, type ConnectionInfo } from '../server/src/session-host/kernels/kernel-client.js';
import { runAs, writeAs } from './helpers/as-user.js';
import { startDaemonProcess, type DaemonProcess } from './helpers/daemon-process.js';
import { withTestUsers, type TestUser } from './helpers/os-users.js';
import { requireRoot } from './helpers/root.js';

const newUser = withTestUsers(test);

test.before(() => {
	requireRoot('kernel adoption tests need root: they create OS users and kill their processes');
});

const exists = (path: string) =>
	stat(path).then(
		() => true,
		() => false,
	);
/** Running, not a zombie: a killed process may stay one for a while on this machine. */
async function alive(pid: number): Promise<boolean> {
	const state = await readFile(`/proc/${pid}/stat`, 'latin1').then(
		(text) => text.slice(text.lastIndexOf(') ') + 2, text.lastIndexOf(') ') + 3),
		() => 'X',
	);
	return !'ZX'.includes(state);
}
async function eventually(check: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
	for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; await new Promise((resolve) => setTimeout(resolve, 100))) if (await check()) return true;
	return false;
}

/** A daemon in a process of its own, with its directory, stopped and removed after the test. */
async function startDaemon(t: ExecutionContext): Promise<{ daemon: DaemonProcess; directory: string }> {
	const directory = await mkdtemp(join(tmpdir(), 'ssd-adoption-'));
	await chmod(directory, 0o711);
	const daemon = await startDaemonProcess(directory);
	t.teardown(async () => {
		await daemon.kill();
		await rm(directory, { recursive: true, force: true });
	});
	return { daemon, directory };
}

async function login(daemon: DaemonProcess, user: TestUser): Promise<RemoteSession> {
	const session = await daemon.open();
	await session.loginWithPassword(user.name, user.password);
	return session;
}

/** Runs code in a kernel through a forwarder and tunnels, as any Jupyter frontend would. */
async function execute(session: RemoteSession, kernel: Kernel, directory: string, code: string) {
	const forwarder = await KernelForwarder.open(session, kernel, { connectionDir: directory });
	const client = await KernelClient.connect(JSON.parse(await readFile(forwarder.connectionFile, 'utf8')) as ConnectionInfo);
	try {
		await client.waitReady(20_000);
		return await client.execute(code);
	} finally {
		client.close();
		await forwarder.close();
	}
}

/** A kernel with `x = 41` in it, and its session host's pid; the session is gone. */
async function kernelWithState(daemon: DaemonProcess, user: TestUser, directory: string): Promise<{ kernel: Kernel; hostPid: number }> {
	const session = await login(daemon, user);
	const system = (await session.listEnvironments()).find((environment) => environment.kind === 'system')!;
	const kernel = await session.startKernel({ environment: system.id, kind: 'ipykernel' });
	const outcome = await execute(session, kernel, directory, 'x = 41');
	if (outcome.status !== 'ok') throw new Error(`x = 41 failed: ${JSON.stringify(outcome)}`);
	const hostPid = (await session.whoami()).pid;
	session.destroy();
	return { kernel, hostPid };
}

/** The session host's own log lines, which the daemon relays as opaque text. */
function hostLog(daemon: DaemonProcess): Record<string, unknown>[] {
	return daemon.log
		.filter((line) => line.msg === 'session host output' && typeof line.line === 'string')
		.flatMap((line) => {
			try {
				return [JSON.parse(line.line as string) as Record<string, unknown>];
			} catch {
				return [];
			}
		});
}

/** After its host died: listed again with its state, reachable through tunnels, and stopped cleanly. */
async function checkAdopted(t: ExecutionContext, daemon: DaemonProcess, user: TestUser, directory: string, kernel: Kernel, oldHostPid: number): Promise<void> {
	const session = await login(daemon, user);
	t.not((await session.whoami()).pid, oldHostPid, 'a new session host serves');
	const listed = (await session.listKernels()).find((candidate) => candidate.id === kernel.id);
	t.truthy(listed, 'the kernel is listed again');
	t.is(listed?.state, 'idle');
	t.is(listed?.pid, kernel.pid);
	t.is(listed?.startedAt, kernel.startedAt);
	t.is(listed?.connection.key, kernel.connection.key);
	const attached = await session.attachKernel(kernel.id);
	t.is((await execute(session, attached, directory, 'x + 1')).result, '42', 'the state of the kernel survived its host');
	await session.shutdownKernel(kernel.id);
	t.true(await eventually(async () => !(await alive(kernel.pid!)), 8000), 'shutdown stops the adopted kernel');
	t.false(await exists(join(directory, 'run', 'sessions', String(user.uid), 'kernels', kernel.id)), 'and removes its directory');
	t.deepEqual(await session.listKernels(), []);
	session.destroy();
}

test('a kernel whose session host was killed is adopted by the next host: listed, attached, stopped', async (t) => {
	const user = await newUser();
	const { daemon, directory } = await startDaemon(t);
	const { kernel, hostPid } = await kernelWithState(daemon, user, directory);
	process.kill(hostPid, 'SIGKILL');
	t.true(await eventually(async () => !(await alive(hostPid)), 3000));
	t.true(await alive(kernel.pid!), 'the kernel runs on without its host');
	await checkAdopted(t, daemon, user, directory, kernel, hostPid);
});

test('a kernel whose session host was stopped is adopted by the host that replaces it, and the stopped one is killed', async (t) => {
	const user = await newUser();
	const { daemon, directory } = await startDaemon(t);
	const { kernel, hostPid } = await kernelWithState(daemon, user, directory);
	process.kill(hostPid, 'SIGSTOP');
	t.teardown(() => {
		try {
			process.kill(hostPid, 'SIGKILL');
		} catch {
			// Gone, as it should be.
		}
	});
	// The daemon waits for the stopped host's greeting, gives up, and starts another: that one must own the kernel alone.
	await checkAdopted(t, daemon, user, directory, kernel, hostPid);
	t.false(await alive(hostPid), 'the stopped host is gone: it can never wake up and stop the kernel it lost');
});

test('kernel directories that cannot be adopted are logged, stopped and removed, and the host serves', async (t) => {
	const user = await newUser();
	const { daemon, directory } = await startDaemon(t);
	const { kernel, hostPid } = await kernelWithState(daemon, user, directory);
	const kernels = join(directory, 'run', 'sessions', String(user.uid), 'kernels');
	const connection = JSON.parse(await readFile(join(kernels, kernel.id, 'connection.json'), 'utf8')) as Record<string, unknown>;
	const record = JSON.parse(await readFile(join(kernels, kernel.id, 'record.json'), 'utf8')) as Record<string, unknown>;
	// This machine's spyder-kernels is 2.x: the version tells an adopting host whether a spyder kernel has a comm port (2.x) or none (3.x).
	t.regex(String((record.environment as { spyderKernels?: string }).spyderKernels), /^2\./, "the record keeps the environment's spyder-kernels version");
	// A copy of the real kernel's files in another directory, changed as the case needs: each must fail on its own fault.
	const forged = async (id: string, recordText: string) => {
		const kernelDirectory = join(kernels, id);
		await writeAs(user, join(kernelDirectory, 'connection.json'), JSON.stringify({ ...connection, ip: join(kernelDirectory, 'kernel') }));
		if (recordText) await writeAs(user, join(kernelDirectory, 'record.json'), recordText);
		return kernelDirectory;
	};
	const garbage = await forged('00000000000000a1', '{"version": 1, "id": ');
	// Root's process, with a command line of a kernel on that directory's connection file, in a group of its own.
	const foreign = execa('/usr/bin/python3', ['-c', 'import time; time.sleep(600)', '-f', join(kernels, '00000000000000a2', 'connection.json')], {
		detached: true,
		reject: false,
	});
	t.teardown(async () => {
		foreign.kill('SIGKILL');
		await foreign;
	});
	const foreignPid = foreign.pid!;
	const startTime = (await readFile(`/proc/${foreignPid}/stat`, 'latin1')).split(') ').at(-1)!.split(' ')[19]!;
	const otherUsers = await forged('00000000000000a2', JSON.stringify({ ...record, id: '00000000000000a2', pid: foreignPid, processStart: startTime }));
	const huge = await forged('00000000000000a3', '');
	await runAs(user, '/usr/bin/truncate', ['-s', '1G', '--', join(huge, 'record.json')]);
	const fifo = await forged('00000000000000a4', '');
	await runAs(user, '/usr/bin/mkfifo', ['--', join(fifo, 'record.json')]);
	const wrongType = await forged('00000000000000a5', JSON.stringify({ ...record, id: '00000000000000a5', pid: 'one' }));
	await runAs(user, '/usr/bin/mkdir', ['--', join(kernels, 'not-a-kernel')]);

	process.kill(hostPid, 'SIGKILL');
	t.true(await eventually(async () => !(await alive(hostPid)), 3000));
	const started = Date.now();
	const session = await login(daemon, user);
	t.true(Date.now() - started < 12_000, 'the new host starts in time');
	t.deepEqual(
		(await session.listKernels()).map((listed) => listed.id),
		[kernel.id],
		'only the real kernel is adopted',
	);

	const reasons = new Map(
		hostLog(daemon)
			.filter((line) => line.msg === 'cannot adopt a kernel of an earlier session host: stopped and removed')
			.map((line) => [line.kernel, String(line.reason)]),
	);
	t.regex(reasons.get('00000000000000a1') ?? '', /record\.json is not JSON/);
	t.regex(reasons.get('00000000000000a2') ?? '', /process \d+ has exited, or is not this user's/);
	t.regex(reasons.get('00000000000000a3') ?? '', /record\.json: larger than \d+ bytes/);
	t.regex(reasons.get('00000000000000a4') ?? '', /record\.json: not a regular file/);
	t.regex(reasons.get('00000000000000a5') ?? '', /record\.json: \/pid: /);
	t.true(hostLog(daemon).some((line) => line.msg === 'not a kernel directory: left alone' && line.entry === 'not-a-kernel'));
	for (const removed of [garbage, otherUsers, huge, fifo, wrongType]) t.false(await exists(removed), `${removed} is removed`);
	t.true(await alive(foreignPid), "another user's process named in a record is never signalled");

	t.is((await execute(session, kernel, directory, 'x + 1')).result, '42');
	await session.shutdownKernel(kernel.id);
	session.destroy();
});

test('a kernel that lost its host and has no record is stopped, not left running unlisted', async (t) => {
	const user = await newUser();
	const { daemon, directory } = await startDaemon(t);
	const { kernel, hostPid } = await kernelWithState(daemon, user, directory);
	// As a kernel started by an earlier version, or a warm kernel nobody took: no record.
	const kernelDirectory = join(directory, 'run', 'sessions', String(user.uid), 'kernels', kernel.id);
	await runAs(user, '/usr/bin/rm', ['--', join(kernelDirectory, 'record.json')]);
	process.kill(hostPid, 'SIGKILL');
	t.true(await eventually(async () => !(await alive(hostPid)), 3000));
	const session = await login(daemon, user);
	t.deepEqual(await session.listKernels(), []);
	t.false(await alive(kernel.pid!), 'the kernel was stopped');
	t.false(await exists(kernelDirectory));
	t.true(hostLog(daemon).some((line) => line.kernel === kernel.id && /record\.json: ENOENT/.test(String(line.reason))));
	session.destroy();
	t.deepEqual(await readdir(join(directory, 'run', 'sessions', String(user.uid), 'kernels')), []);
});
