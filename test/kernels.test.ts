import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import test from 'ava';
import { execa } from 'execa';
import { connect as tlsConnect } from 'node:tls';
import { ErrorCodes, KernelForwarder, RemoteError, type RemoteSession } from '@spyder-remote/client';
import type { Kernel } from '@spyder-remote/protocol';
import { KernelClient, type ConnectionInfo } from '../server/src/session-host/kernels/kernel-client.js';
import { ZmtpSocket } from '../server/src/session-host/kernels/zmtp.js';
import { runAs } from './helpers/as-user.js';
import { withTestUsers, type TestUser } from './helpers/os-users.js';
import { startTestServer, type LogRecord, type TestServer } from './helpers/server.js';
import { requireRoot } from './helpers/root.js';

const newUser = withTestUsers(test);
let server: TestServer;
let alice: TestUser;
let bob: TestUser;
const cleanups: (() => Promise<unknown>)[] = [];
const logs: LogRecord[] = [];

test.before(async () => {
	requireRoot('kernel tests need root: they create OS users');
	[alice, bob] = await Promise.all([newUser(), newUser()]);
	await runAs(alice, '/usr/bin/python3', ['-m', 'venv', '--without-pip', join(alice.home, '.venvs', 'bare')]);
	server = await startTestServer({ auth: { maxStartups: '100' } }, { onLog: (record) => logs.push(record) });
});
test.after.always(async () => {
	for (const cleanup of cleanups) await cleanup().catch(() => undefined);
	await server?.stop();
});

async function login(user: TestUser): Promise<RemoteSession> {
	const session = await server.open();
	await session.loginWithPassword(user.name, user.password);
	cleanups.push(async () => session.destroy());
	return session;
}

async function systemEnvironment(session: RemoteSession) {
	return (await session.listEnvironments()).find((environment) => environment.kind === 'system')!;
}

/** A kernel, forwarded, with a Jupyter client on the forwarder's connection file: the path any Jupyter frontend takes. */
async function forwardedKernel(session: RemoteSession, kind: 'spyder' | 'ipykernel' = 'spyder') {
	const kernel = await session.startKernel({ environment: (await systemEnvironment(session)).id, kind });
	const forwarder = await KernelForwarder.open(session, kernel, { connectionDir: server.directory });
	const info = JSON.parse(await readFile(forwarder.connectionFile, 'utf8')) as ConnectionInfo;
	const client = await KernelClient.connect(info);
	await client.waitReady(20_000);
	cleanups.push(async () => {
		client.close();
		await forwarder.close();
	});
	return { kernel, forwarder, client, info };
}

const alive = (pid: number) =>
	stat(`/proc/${pid}`).then(
		() => true,
		() => false,
	);
async function eventually(check: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
	for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; await new Promise((resolve) => setTimeout(resolve, 100))) if (await check()) return true;
	return false;
}

test('code runs as the user through the forwarder, and the connection file is private', async (t) => {
	const session = await login(alice);
	const { kernel, forwarder, client } = await forwardedKernel(session);
	t.is(kernel.state, 'idle');
	t.is(kernel.connection.key.length, 64, 'a 32-byte HMAC key, never empty');
	const states: string[] = [];
	session.onKernelEvent((event) => event.type === 'state' && event.params.id === kernel.id && states.push(event.params.state));
	const outcome = await client.execute('import os; print(os.getuid(), os.getgid(), sorted(os.getgroups()))');
	t.true(await eventually(async () => states.includes('busy') && states.at(-1) === 'idle', 3000), `kernel/didChangeState: ${states.join(',')}`);
	t.is(outcome.stdout.trim(), `${alice.uid} ${alice.gid} ${JSON.stringify([alice.gid, ...alice.groups].sort((a, b) => a - b)).replaceAll(',', ', ')}`);
	t.is((await stat(forwarder.connectionFile)).mode & 0o777, 0o600);
	const status = await readFile(`/proc/${kernel.pid}/status`, 'utf8');
	t.regex(status, new RegExp(`^Uid:\\s+${alice.uid}\\s`, 'm'));
	await session.shutdownKernel(kernel.id);
	t.true(await eventually(async () => !(await alive(kernel.pid!)), 8000), 'spyder-kernels is made to exit');
});

test('no kernel socket listens on TCP: only Unix sockets in a 0700 directory', async (t) => {
	const session = await login(alice);
	const { kernel } = await forwardedKernel(session);
	const listening = await execa('ss', ['-lntpH']);
	t.false(listening.stdout.includes(`pid=${kernel.pid},`), listening.stdout);
	const udp = await execa('ss', ['-lnupH']);
	t.false(udp.stdout.includes(`pid=${kernel.pid},`), udp.stdout);
	const unix = await execa('ss', ['-lxpH']);
	t.true(unix.stdout.includes(`pid=${kernel.pid},`), 'the kernel listens on Unix sockets');
	await session.shutdownKernel(kernel.id);
});

test('a long computation is interrupted; restart keeps the id and the forwarder', async (t) => {
	const session = await login(alice);
	const { kernel, client } = await forwardedKernel(session, 'ipykernel');
	await client.execute('x = 1');
	const sleeping = client.execute('import time; time.sleep(60)', { timeoutMs: 30_000 });
	await new Promise((resolve) => setTimeout(resolve, 1000));
	const started = Date.now();
	await session.interruptKernel(kernel.id);
	const interrupted = await sleeping;
	t.is(interrupted.error?.ename, 'KeyboardInterrupt');
	t.true(Date.now() - started < 10_000);

	const restarted = await session.restartKernel(kernel.id);
	t.is(restarted.id, kernel.id);
	t.not(restarted.pid, kernel.pid);
	const after = await KernelClient.connect(JSON.parse(await readFile(join(server.directory, `kernel-ssd-${kernel.id}.json`), 'utf8')));
	await after.waitReady(20_000);
	t.is((await after.execute('print("x" in globals())')).stdout.trim(), 'False', 'a restart gives a fresh interpreter');
	after.close();
	await session.shutdownKernel(kernel.id);
});

test("spyder-kernels' comm port is reachable through the forwarder", async (t) => {
	const session = await login(alice);
	const { kernel, forwarder } = await forwardedKernel(session);
	t.true(Number.isInteger(kernel.commPort));
	t.is(forwarder.ports.comm, kernel.commPort, 'listened on the number the kernel announces');
	// A ZMTP handshake completes only if the kernel's ROUTER socket answers at the other end of the tunnel.
	const socket = await ZmtpSocket.connect({ host: '127.0.0.1', port: kernel.commPort! }, 'DEALER');
	socket.close();

	const restarted = await session.restartKernel(kernel.id);
	await forwarder.follow(restarted);
	t.is(forwarder.ports.comm, restarted.commPort, 'after a restart the forwarder listens on the comm port the new kernel announces');
	(await ZmtpSocket.connect({ host: '127.0.0.1', port: restarted.commPort! }, 'DEALER')).close();
	await session.shutdownKernel(kernel.id);
});

test('kernels survive a killed client; a new login re-attaches and state is kept', async (t) => {
	const first = await login(alice);
	const { kernel, client, forwarder } = await forwardedKernel(first);
	await client.execute('answer = 41 + 1');
	client.close();
	first.destroy();
	await forwarder.close();
	await new Promise((resolve) => setTimeout(resolve, 500));
	t.true(await alive(kernel.pid!));

	const second = await login(alice);
	const listed = (await second.listKernels()).find((candidate) => candidate.id === kernel.id);
	t.truthy(listed);
	const attached = await second.attachKernel(kernel.id);
	const again = await KernelForwarder.open(second, attached, { connectionDir: server.directory });
	const reconnected = await KernelClient.connect(JSON.parse(await readFile(again.connectionFile, 'utf8')));
	await reconnected.waitReady(20_000);
	t.is((await reconnected.execute('print(answer)')).stdout.trim(), '42');
	reconnected.close();
	await again.close();
	await second.shutdownKernel(kernel.id);
});

test('a kernel is refused at once when its environment lacks spyder-kernels, naming what is missing', async (t) => {
	const session = await login(alice);
	const bare = (await session.listEnvironments()).find((environment) => environment.name === 'bare')!;
	const started = Date.now();
	const error = await t.throwsAsync(session.startKernel({ environment: bare.id, kind: 'spyder', spyderKernelsRange: '>=2.4.0,<2.5.0' }), {
		instanceOf: RemoteError,
	});
	t.is(error?.code, ErrorCodes.KernelUnavailable);
	t.regex(error!.message, /bare/);
	t.regex(error!.message, /spyder-kernels/);
	t.regex(error!.message, />=2\.4\.0,<2\.5\.0/);
	t.true(Date.now() - started < 2000, 'not a timeout');
	const wrongRange = await t.throwsAsync(session.startKernel({ environment: (await systemEnvironment(session)).id, spyderKernelsRange: '>=3.1.0,<3.2.0' }), {
		instanceOf: RemoteError,
	});
	t.regex(wrongRange!.message, /spyder-kernels 2\.4\.\d+ found, needs >=3\.1\.0,<3\.2\.0/);
});

test("one user cannot list, attach, interrupt, restart, stop or tunnel into another's kernel", async (t) => {
	const owner = await login(alice);
	const { kernel, client } = await forwardedKernel(owner);
	const intruder = await login(bob);
	t.false((await intruder.listKernels()).some((candidate) => candidate.id === kernel.id));
	for (const attempt of [
		intruder.attachKernel(kernel.id),
		intruder.interruptKernel(kernel.id),
		intruder.restartKernel(kernel.id),
		intruder.shutdownKernel(kernel.id),
		intruder.connectKernel(kernel.id, 'shell'),
	]) {
		const error = await t.throwsAsync(attempt, { instanceOf: RemoteError });
		t.is(error?.code, ErrorCodes.KernelNotFound);
	}
	// Tokens: alice's uid with a guessed secret, and a real token used twice, both get the connection closed.
	const { token } = await owner.connectKernel(kernel.id, 'shell');
	const tunnelCloses = (line: string) =>
		new Promise<boolean>((resolve) => {
			const socket = tlsConnect({ host: '127.0.0.1', port: server.server.port, rejectUnauthorized: false, ALPNProtocols: ['spyder-remote-tunnel/1'] }, () => {
				socket.write(`${line}\n`);
				// A live tunnel to a ZMTP peer would answer our greeting; a refused one just closes.
				socket.write(Buffer.from([0xff, 0, 0, 0, 0, 0, 0, 0, 1, 0x7f]));
			});
			let answered = false;
			socket.on('data', () => (answered = true));
			socket.on('error', () => undefined);
			socket.on('close', () => resolve(!answered));
			setTimeout(() => {
				socket.destroy();
			}, 3000);
		});
	t.false(await tunnelCloses(token), 'the genuine token opens the tunnel');
	t.true(await tunnelCloses(token), 'a token works once');
	t.true(await tunnelCloses(`${alice.uid}.${'A'.repeat(32)}`), 'a guessed token is refused');
	// The peer is told nothing; the daemon's log keeps who was refused, from where, and why.
	const refusals = logs.filter((record) => record.msg === 'tunnel refused' && record.uid === alice.uid);
	t.true(
		refusals.length >= 2 && refusals.every((record) => record.peer === '127.0.0.1' && typeof record.reason === 'string' && record.reason !== ''),
		JSON.stringify(refusals),
	);
	t.true(await tunnelCloses(`${bob.uid}.${token.split('.')[1]}`), "alice's secret under bob's uid is refused");
	t.is((await client.execute('print(1)')).stdout.trim(), '1', "the owner's kernel is untouched");
	await owner.shutdownKernel(kernel.id);
});

test('jupyter console works with the connection file ssd kernel start writes', async (t) => {
	const jupyterConsole = await execa('which', ['jupyter-console'], { reject: false });
	if (jupyterConsole.exitCode !== 0) throw new Error('jupyter-console is missing: apt-get install jupyter-console');
	const loginFlags = ['--user', alice.name, '--password-stdin', '--fingerprint', server.server.fingerprint];
	const ssd = execa(
		process.execPath,
		['client-lib/dist/bin/ssd.js', 'kernel', 'start', `127.0.0.1:${server.server.port}`, '--env', '/usr', '--json', ...loginFlags],
		{
			input: `${alice.password}\n`,
			env: { JUPYTER_RUNTIME_DIR: join(server.directory, 'jupyter'), SPYDER_REMOTE_CONFIG_DIR: join(server.directory, 'client') },
			reject: false,
		},
	);
	const started = await new Promise<{ id: string; connectionFile: string }>((resolve, reject) => {
		ssd.stdout!.on('data', (chunk: Buffer) => {
			const line = chunk.toString().split('\n')[0]!;
			if (line.startsWith('{')) resolve(JSON.parse(line));
		});
		void ssd.then((result) => reject(new Error(`ssd kernel start exited: ${result.stderr}`)));
	});
	const consoleRun = await execa(
		'jupyter-console',
		['--existing', started.connectionFile, '--simple-prompt', '--ZMQTerminalInteractiveShell.kernel_timeout=30'],
		{
			input: 'print(6 * 7)\nimport os; print("uid", os.getuid())\n',
			reject: false,
			timeout: 60_000,
			env: { HOME: server.directory, JUPYTER_RUNTIME_DIR: join(server.directory, 'jupyter') },
		},
	);
	t.regex(consoleRun.stdout, /42/, consoleRun.stderr);
	t.regex(consoleRun.stdout, new RegExp(`uid ${alice.uid}`));
	ssd.kill('SIGINT');
	await ssd;
	const session = await login(alice);
	t.true(
		(await session.listKernels()).some((kernel) => kernel.id === started.id),
		'Ctrl-C detaches without stopping the kernel',
	);
	await session.shutdownKernel(started.id);
});

test('the lease stops kernels once the user has been away long enough, and the daemon leaves no orphans', async (t) => {
	const carol = await newUser();
	const leased = await startTestServer({ kernels: { lease: 2 } });
	try {
		const session = await leased.open();
		await session.loginWithPassword(carol.name, carol.password);
		const environment = await systemEnvironment(session);
		const kernel: Kernel = await session.startKernel({ environment: environment.id, kind: 'ipykernel' });
		const hostPid = (await session.whoami()).pid;
		await session.close();
		t.true(await alive(kernel.pid!), 'still running right after the disconnect');
		t.true(await eventually(async () => !(await alive(kernel.pid!)), 10_000), 'stopped after the lease');

		const again = await leased.open();
		await again.loginWithPassword(carol.name, carol.password);
		const second = await again.startKernel({ environment: environment.id, kind: 'spyder' });
		await leased.stop();
		t.true(await eventually(async () => !(await alive(second.pid!)) && !(await alive(hostPid)), 10_000));
		const left = await execa('pgrep', ['-u', String(carol.uid)], { reject: false });
		t.is(left.stdout, '', 'no process of the user is left');
	} finally {
		await leased.stop().catch(() => undefined);
	}
});

test('a user whose session host stops answering delays only their own tunnels', async (t) => {
	const carol = await newUser();
	await login(carol);
	// Alice's kernel starts before carol's host stops: what is measured is new tunnels alone, which must
	// get through within the daemon's 5 s limit on carol's even on a loaded machine.
	const session = await login(alice);
	const { kernel } = await forwardedKernel(session, 'ipykernel');
	const hostPid = await findSessionHost(carol);
	const resume = () => {
		try {
			process.kill(hostPid, 'SIGCONT');
		} catch {
			// Already gone: the host may leave once carol's connection closes.
		}
	};
	process.kill(hostPid, 'SIGSTOP');
	t.teardown(resume);
	// Tunnels for carol's uid now wait on a host that cannot answer, up to the daemon's 5 s limit.
	let carolsRefused = 0;
	const carols = Array.from(
		{ length: 12 },
		() =>
			new Promise<void>((resolve) => {
				const socket = tlsConnect({ host: '127.0.0.1', port: server.server.port, rejectUnauthorized: false, ALPNProtocols: ['spyder-remote-tunnel/1'] }, () =>
					socket.write(`${carol.uid}.${'A'.repeat(32)}\n`),
				);
				socket.on('error', () => undefined);
				socket.on('close', () => {
					carolsRefused += 1;
					resolve();
				});
			}),
	);
	await new Promise((resolve) => setTimeout(resolve, 200));
	const forwarder = await KernelForwarder.open(session, kernel, { connectionDir: server.directory });
	const client = await KernelClient.connect(JSON.parse(await readFile(forwarder.connectionFile, 'utf8')) as ConnectionInfo);
	t.teardown(async () => {
		client.close();
		await forwarder.close();
	});
	await client.waitReady(5_000);
	t.is((await client.execute('print(6 * 7)')).stdout.trim(), '42');
	t.is(carolsRefused, 0, "alice's kernel answered through new tunnels while carol's still waited");
	await session.shutdownKernel(kernel.id);
	resume();
	await Promise.all(carols);
	t.is(carolsRefused, 12, "carol's tunnels with a made-up token are refused once her host answers or the limit passes");
});

/** The pid of a user's session host, from the process table. */
async function findSessionHost(user: TestUser): Promise<number> {
	for (const entry of await readdir('/proc')) {
		if (!/^\d+$/.test(entry)) continue;
		const [status, cmdline] = await Promise.all([readFile(`/proc/${entry}/status`, 'utf8'), readFile(`/proc/${entry}/cmdline`, 'utf8')]).catch(() => ['', '']);
		if (new RegExp(`^Uid:\\s+${user.uid}\\s`, 'm').test(status) && cmdline.includes('bin/ssd-session-host.js')) return Number(entry);
	}
	throw new Error(`no session host runs for ${user.name}`);
}
