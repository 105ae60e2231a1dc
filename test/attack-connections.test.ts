import { connect as netConnect, type Socket } from 'node:net';
import { join } from 'node:path';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import test from 'ava';
import { execa } from 'execa';
import type { RemoteSession } from '@spyder-remote/client';
import { encodeFrame, FrameDecoder, parseMessage } from '@spyder-remote/protocol/node';
import { startThrowawayDaemon } from './helpers/daemon-process.js';
import { withTestUsers, type TestUser } from './helpers/os-users.js';
import { requireRoot } from './helpers/root.js';

const newUser = withTestUsers(test);

test.before(() => {
	requireRoot('these tests need root: they create OS users and run a system-mode daemon');
});

const alive = (pid: number) => {
	try {
		process.kill(pid, 0);
		return true;
	} catch {
		return false;
	}
};

/** A client from a chosen loopback address (the whole of 127/8 is local on Linux), speaking the protocol by hand. */
class SourceClient {
	private readonly decoder = new FrameDecoder();
	private readonly answers = new Map<number, (message: any) => void>();
	private nextId = 1;
	readonly closed: Promise<void>;

	private constructor(private readonly socket: TLSSocket) {
		socket.on('data', (chunk: Buffer) => {
			this.decoder.push(chunk);
			for (let body = this.decoder.next(); body; body = this.decoder.next()) {
				const message = parseMessage(body) as { id?: number };
				if (typeof message.id === 'number') this.answers.get(message.id)?.(message);
			}
		});
		socket.on('error', () => undefined);
		this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
	}

	static open(port: number, localAddress: string, timeoutMs = 30_000): Promise<SourceClient> {
		return new Promise((resolve, reject) => {
			const socket = tlsConnect({ host: '127.0.0.1', port, localAddress, rejectUnauthorized: false, ALPNProtocols: ['spyder-remote/1'] }, () => {
				// The timeout bounds the handshake only: a login queued behind others may then stay silent for a while.
				socket.setTimeout(0);
				resolve(new SourceClient(socket));
			});
			socket.setTimeout(timeoutMs, () => socket.destroy(new Error('no TLS handshake in time')));
			socket.once('error', reject);
			socket.once('close', () => reject(new Error('closed before the TLS handshake')));
		});
	}

	request(method: string, params?: unknown, timeoutMs = 60_000): Promise<any> {
		const id = this.nextId++;
		this.socket.write(encodeFrame(Buffer.from(JSON.stringify({ jsonrpc: '2.0', id, method, ...(params === undefined ? {} : { params }) }))));
		return new Promise((resolve, reject) => {
			const timer = setTimeout(() => reject(new Error(`no answer to ${method}`)), timeoutMs);
			void this.closed.then(() => reject(new Error(`closed before answering ${method}`)));
			this.answers.set(id, (message) => {
				clearTimeout(timer);
				resolve(message);
			});
		});
	}

	/** initialize, a password login and a ping over the relay; resolves to the ping's result. */
	async logIn(user: TestUser): Promise<unknown> {
		await this.request('initialize', { protocolVersion: '0.1.0', clientInfo: { name: 'attack-test' }, capabilities: {} });
		const login = await this.request('auth/password', { user: user.name, password: user.password });
		if (!login.result) throw new Error(`login refused: ${JSON.stringify(login.error)}`);
		return (await this.request('session/ping')).result;
	}

	destroy(): void {
		this.socket.destroy();
	}
}

/** `count` plain TCP connections from `localAddress` that say nothing; resolves once each is connected or refused. */
async function idleConnections(port: number, localAddress: string, count: number): Promise<Socket[]> {
	const sockets = await Promise.all(
		Array.from(
			{ length: count },
			() =>
				new Promise<Socket>((resolve) => {
					const socket = netConnect({ host: '127.0.0.1', port, localAddress }, () => resolve(socket));
					socket.on('error', () => resolve(socket));
				}),
		),
	);
	return sockets;
}

async function logInFrom(port: number, localAddress: string, user: TestUser): Promise<'ok' | string> {
	try {
		const client = await SourceClient.open(port, localAddress);
		const pong = await client.logIn(user);
		client.destroy();
		return JSON.stringify(pong) === '{}' ? 'ok' : `ping answered ${JSON.stringify(pong)}`;
	} catch (error) {
		return (error as Error).message;
	}
}

test.serial('500 idle connections from one address leave logins from another working', async (t) => {
	t.timeout(120_000);
	const user = await newUser();
	const server = await startThrowawayDaemon(t);
	const flood = await idleConnections(server.port, '127.0.0.2', 500);
	t.teardown(() => flood.forEach((socket) => socket.destroy()));
	const outcomes = await Promise.all(Array.from({ length: 10 }, () => logInFrom(server.port, '127.0.0.3', user)));
	t.deepEqual(outcomes, Array(10).fill('ok'));
	t.true(
		server.log.some((line) => /perSourceMaxStartups/.test(String(line.msg))),
		'the flood was refused per source',
	);
	t.true(alive(server.pid));
});

test.serial('a source whose connections end without login is refused for a while; others are not', async (t) => {
	t.timeout(120_000);
	const user = await newUser();
	const server = await startThrowawayDaemon(t);
	// Each connects, shakes hands and leaves without logging in: 1 s of penalty each by default, refused from 15 s on.
	let leftWithoutLogin = 0;
	for (; leftWithoutLogin < 20; leftWithoutLogin += 1) {
		const client = await SourceClient.open(server.port, '127.0.0.4').catch(() => undefined);
		if (!client) break;
		client.destroy();
		await client.closed;
		await new Promise((resolve) => setTimeout(resolve, 20));
	}
	t.true(leftWithoutLogin >= 15, `refused only once the minimum penalty had accrued (after ${leftWithoutLogin})`);
	t.not(await logInFrom(server.port, '127.0.0.4', user), 'ok', 'the penalised source is refused at accept');
	t.is(await logInFrom(server.port, '127.0.0.5', user), 'ok', 'another source is not');
	t.true(server.log.some((line) => /perSourcePenalties/.test(String(line.msg))));
});

test.serial('with 256 descriptors, a flood past the limit is refused and every existing session still answers', async (t) => {
	t.timeout(240_000);
	const user = await newUser();
	// maxStartups 2000 (start = full) so that only the descriptor limit stops the flood.
	const server = await startThrowawayDaemon(t, { prefix: ['prlimit', '--nofile=256:256', '--'], config: { auth: { maxStartups: '2000' } } });
	const sessions: RemoteSession[] = [];
	t.teardown(() => sessions.forEach((session) => session.destroy()));
	for (let batch = 0; batch < 40 && sessions.length === batch * 4; batch += 1) {
		const opened = await Promise.allSettled(
			Array.from({ length: 4 }, async () => {
				const session = await server.open();
				await session.loginWithPassword(user.name, user.password);
				return session;
			}),
		);
		for (const outcome of opened) if (outcome.status === 'fulfilled') sessions.push(outcome.value);
	}
	t.true(sessions.length >= 20, `at least 20 sessions fit in 256 descriptors (got ${sessions.length})`);
	t.true(sessions.length < 160, 'logins past the limit were refused');

	const flood = await idleConnections(server.port, '127.0.0.1', 400);
	t.teardown(() => flood.forEach((socket) => socket.destroy()));
	const late = await Promise.all(Array.from({ length: 5 }, () => logInFrom(server.port, '127.0.0.1', user)));
	t.false(late.includes('ok'), 'a login at the limit is refused');

	t.true(alive(server.pid), 'the daemon is alive');
	const pings = await Promise.allSettled(sessions.map((session) => session.ping()));
	t.deepEqual(
		pings.map((ping) => ping.status),
		sessions.map(() => 'fulfilled'),
		'every session that existed still answers',
	);
	t.true(server.log.some((line) => /too few file descriptors/.test(String(line.msg))));
});

test.serial('a class of 50 logging in at once with the default limits all get in', async (t) => {
	t.timeout(300_000);
	const users: TestUser[] = [];
	// One at a time: the shadow tools serialise on a lock anyway.
	for (let index = 0; index < 10; index += 1) users.push(await newUser());
	const server = await startThrowawayDaemon(t);
	const started = Date.now();
	// One address per student, as from the machines of a lab.
	const outcomes = await Promise.all(Array.from({ length: 50 }, (_, index) => logInFrom(server.port, `127.0.0.${10 + index}`, users[index % users.length]!)));
	t.log(`50 logins in ${Date.now() - started} ms`);
	if (outcomes.some((outcome) => outcome !== 'ok')) t.log(server.log.filter((line) => Number(line.level) >= 40 || !line.level).slice(0, 20));
	t.deepEqual(outcomes, Array(50).fill('ok'));
});

test('a spawn without descriptors left fails that spawn only, and the process spawns again once some are free', async (t) => {
	const childProcessModule = join(import.meta.dirname, '..', 'server', 'dist', 'common', 'child-process.js');
	const script = `
		import { closeSync, openSync } from 'node:fs';
		import { spawnChild } from ${JSON.stringify(childProcessModule)};
		const held = [];
		try { for (;;) held.push(openSync('/dev/null', 'r')); } catch {}
		try { spawnChild('true', [], { input: 'x', buffer: false, reject: false }); console.log('spawned'); } catch (error) { console.log(error.name + ': ' + error.message); }
		setTimeout(async () => {
			for (const fd of held.splice(0, 32)) closeSync(fd);
			console.log('then: ' + (await spawnChild('echo', ['ok'], {})).stdout);
		}, 200);
	`;
	const result = await execa('prlimit', ['--nofile=64:64', '--', process.execPath, '--input-type=module', '-e', script], { reject: false });
	t.is(result.exitCode, 0, result.stderr);
	t.deepEqual(result.stdout.split('\n'), ['SpawnError: cannot start true: EMFILE', 'then: ok']);
});
