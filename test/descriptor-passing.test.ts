import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, openSync, readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, Socket, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import {
	closeDescriptor,
	connectUnixSocket,
	isUnixStreamSocket,
	receiveDescriptor,
	receiveExactly,
	sendAll,
	sendDescriptor,
} from '../server/src/common/descriptor-passing.js';

/** A listening Unix socket whose accepted connections are handed to `serve`, as a session host's are. */
async function listen(serve: (peer: Socket) => void): Promise<{ path: string; server: Server; cleanup: () => Promise<void> }> {
	const directory = await mkdtemp(join(tmpdir(), 'ssd-fd-'));
	const path = join(directory, 'peer.sock');
	const server = createServer(serve);
	server.listen(path);
	await once(server, 'listening');
	return {
		path,
		server,
		cleanup: async () => {
			server.close();
			await rm(directory, { recursive: true, force: true });
		},
	};
}

const openDescriptors = () => readdirSync('/proc/self/fd').length;
const descriptorOf = (socket: Socket) => (socket as unknown as { _handle: { fd: number } })._handle.fd;

test.serial('a connected Unix socket handed over arrives as a working socket, and nothing leaks', async (t) => {
	const target = await listen((peer) => peer.on('data', (data) => peer.write(`echo:${data}`)));
	const host = await listen((peer) => {
		peer.once('data', () => {
			const kernel = connectUnixSocket(target.path);
			sendDescriptor(descriptorOf(peer), kernel);
			closeDescriptor(kernel);
			peer.destroy();
		});
	});
	t.teardown(async () => {
		await target.cleanup();
		await host.cleanup();
	});
	let before = openDescriptors();
	// Round 0 lets Node open what it opens once (timers, the thread pool's wake-up descriptor); 20 more must add nothing.
	for (let round = 0; round <= 20; round += 1) {
		if (round === 1) before = openDescriptors();
		const connection = connectUnixSocket(host.path);
		sendAll(connection, Buffer.from('please\n'));
		const descriptor = await receiveDescriptor(connection, Date.now() + 2_000);
		closeDescriptor(connection);
		t.true(isUnixStreamSocket(descriptor));
		const socket = new Socket({ fd: descriptor, readable: true, writable: true });
		socket.write('ping');
		const [answer] = (await once(socket, 'data')) as [Buffer];
		t.is(answer.toString(), 'echo:ping');
		socket.destroy();
		await once(socket, 'close');
	}
	t.true(openDescriptors() <= before, 'every descriptor received was closed with its socket');
});

test('a peer that sends a file instead of a socket is recognised, so the daemon refuses it', async (t) => {
	const host = await listen((peer) => {
		const file = openSync('/etc/hostname', 'r');
		sendDescriptor(descriptorOf(peer), file);
		closeSync(file);
		peer.destroy();
	});
	t.teardown(host.cleanup);
	const connection = connectUnixSocket(host.path);
	const descriptor = await receiveDescriptor(connection, Date.now() + 2_000);
	closeDescriptor(connection);
	t.false(isUnixStreamSocket(descriptor));
	closeDescriptor(descriptor);
});

test('a peer that closes, sends a plain byte, or stays silent gives an error, not a hang', async (t) => {
	const behaviours = ['close', 'plain byte', 'silent'] as const;
	for (const behaviour of behaviours) {
		const host = await listen((peer) => {
			if (behaviour === 'close') peer.destroy();
			else if (behaviour === 'plain byte') peer.write('D');
		});
		const connection = connectUnixSocket(host.path);
		const started = Date.now();
		await t.throwsAsync(receiveDescriptor(connection, started + 500), undefined, behaviour);
		t.true(Date.now() - started < 3_000, `${behaviour}: bounded by the deadline`);
		closeDescriptor(connection);
		await host.cleanup();
	}
});

test('receiveExactly stops at what arrived when the peer closes early', async (t) => {
	const host = await listen((peer) => peer.end('SSD-HOST short'));
	t.teardown(host.cleanup);
	const connection = connectUnixSocket(host.path);
	const greeting = await receiveExactly(connection, 64, Date.now() + 2_000);
	closeDescriptor(connection);
	t.is(greeting.toString(), 'SSD-HOST short');
});

test('connecting to a path that is no socket, or too long for one, fails with a clear error', (t) => {
	t.throws(() => connectUnixSocket('/nonexistent/ssd.sock'), { message: /connect \/nonexistent\/ssd\.sock failed/ });
	t.throws(() => connectUnixSocket(`/tmp/${'x'.repeat(120)}`), { message: /too long/ });
});

test('waiting peers hold neither the event loop nor the thread pool', async (t) => {
	const host = await listen(() => undefined);
	t.teardown(host.cleanup);
	const connections = Array.from({ length: 16 }, () => connectUnixSocket(host.path));
	const waiting = connections.map((connection) => receiveDescriptor(connection, Date.now() + 1_500).catch((error: Error) => error));
	// More waiters than libuv has pool threads (4): file reads, which need one, still finish at once.
	const started = Date.now();
	await Promise.all(Array.from({ length: 8 }, () => readFile('/etc/hostname')));
	t.true(Date.now() - started < 500, `file reads took ${Date.now() - started} ms while 16 hand-overs waited`);
	for (const outcome of await Promise.all(waiting)) t.true(outcome instanceof Error);
	for (const connection of connections) closeDescriptor(connection);
});

test('a listener that stops accepting refuses at once instead of blocking the caller', async (t) => {
	const directory = await mkdtemp(join(tmpdir(), 'ssd-fd-'));
	const path = join(directory, 'stuck.sock');
	// A listener with the smallest queue that never accepts: a stopped session host, say.
	const stuck = spawn(
		'/usr/bin/python3',
		['-c', 'import socket,sys,time\ns=socket.socket(socket.AF_UNIX)\ns.bind(sys.argv[1])\ns.listen(0)\nprint("ready",flush=True)\ntime.sleep(60)', path],
		{ stdio: ['ignore', 'pipe', 'inherit'] },
	);
	t.teardown(async () => {
		stuck.kill('SIGKILL');
		await rm(directory, { recursive: true, force: true });
	});
	await once(stuck.stdout!, 'data');
	const opened: number[] = [];
	const started = Date.now();
	const refusal = t.throws(() => {
		for (let attempt = 0; attempt < 64; attempt += 1) opened.push(connectUnixSocket(path));
	});
	t.true(Date.now() - started < 1_000);
	t.regex(refusal?.message ?? '', /errno 11/, 'EAGAIN: the queue is full');
	for (const fd of opened) closeDescriptor(fd);
});
