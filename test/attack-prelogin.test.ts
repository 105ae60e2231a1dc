import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import test from 'ava';
import { encodeFrame } from '@spyder-remote/protocol/node';
import { startThrowawayDaemon } from './helpers/daemon-process.js';
import { withTestUsers, type TestUser } from './helpers/os-users.js';
import { RawClient } from './helpers/server.js';
import { requireRoot } from './helpers/root.js';

const newUser = withTestUsers(test);
const MiB = 1024 * 1024;
/** The bound this daemon's resident memory must stay under while unauthenticated peers flood it. */
const rssBoundBytes = 256 * MiB;

test.before(() => {
	requireRoot('these tests need root: they create OS users and run a system-mode daemon');
});

async function residentBytes(pid: number): Promise<number> {
	const status = await readFile(`/proc/${pid}/status`, 'utf8');
	return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)![1]) * 1024;
}

/** Samples the daemon's VmRSS every 50 ms until stopped; resolves to the largest value seen. */
function watchResident(pid: number): { stop: () => Promise<number> } {
	let largest = 0;
	let running = true;
	const sampling = (async () => {
		while (running) {
			largest = Math.max(largest, await residentBytes(pid).catch(() => 0));
			await sleep(50);
		}
	})();
	return {
		async stop() {
			running = false;
			await sampling;
			return largest;
		},
	};
}

const frameOf = (message: object) => encodeFrame(Buffer.from(JSON.stringify({ jsonrpc: '2.0', ...message })));
const initializeParams = { protocolVersion: '0.1.0', clientInfo: { name: 'attack-test' }, capabilities: {} };
const nested = (depth: number) => Buffer.from('['.repeat(depth) + ']'.repeat(depth));
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

/** Writes `bytes` a piece at a time as the peer reads them, and stops once it has closed: a refused frame costs the sender little. */
async function writeUntilClosed(raw: RawClient, bytes: Buffer): Promise<void> {
	const piece = 256 * 1024;
	for (let offset = 0; offset < bytes.length && !raw.socket.destroyed; offset += piece) {
		if (!raw.socket.write(bytes.subarray(offset, offset + piece)))
			await Promise.race([new Promise((resolve) => raw.socket.once('drain', resolve)), raw.closed]);
	}
}

/** Milliseconds from connecting to a successful password login: TLS, initialize, real PAM. */
async function timedLogin(port: number, user: TestUser): Promise<number> {
	const started = performance.now();
	const raw = await RawClient.open(port);
	try {
		await raw.request(0, 'initialize', initializeParams, 60_000);
		const login = await raw.request(1, 'auth/password', { user: user.name, password: user.password }, 60_000);
		if (!login.result) throw new Error(`login refused: ${JSON.stringify(login)}`);
		return performance.now() - started;
	} finally {
		raw.destroy();
	}
}

test.serial('20 hostile pre-login peers sending deep and huge frames leave a login within 2x its idle latency', async (t) => {
	t.timeout(240_000);
	const user = await newUser();
	const server = await startThrowawayDaemon(t, { config: { auth: { maxStartups: '100' } } });
	await timedLogin(server.port, user); // starts the session host, which later logins reuse
	const idle: number[] = [];
	for (let i = 0; i < 5; i += 1) idle.push(await timedLogin(server.port, user));
	const idleMs = median(idle);

	// Each peer claims a 16 MiB frame of [[[…]]] or sends a 64 KiB one, then does it again on a new connection.
	const huge = encodeFrame(nested(8 * MiB - 1));
	const deep = encodeFrame(nested(32 * 1024));
	let flooding = true;
	let hostileConnections = 0;
	const peer = async (index: number) => {
		for (let round = index; flooding; round += 1) {
			const raw = await RawClient.open(server.port).catch(() => undefined);
			if (raw) {
				hostileConnections += 1;
				await writeUntilClosed(raw, round % 2 === 0 ? huge : deep);
				await raw.closesWithin(5000);
				raw.destroy();
			}
			await sleep(100);
		}
	};
	const peers = Array.from({ length: 20 }, (_, index) => peer(index));
	await sleep(1000);
	const flooded: number[] = [];
	for (let i = 0; i < 3; i += 1) flooded.push(await timedLogin(server.port, user));
	flooding = false;
	await Promise.all(peers);

	const boundMs = Math.max(2 * idleMs, idleMs + 1000);
	t.log(
		`idle login ms: ${idle.map(Math.round).join(', ')} (median ${Math.round(idleMs)}); under 20 hostile peers: ${flooded.map(Math.round).join(', ')}; bound ${Math.round(boundMs)}; hostile connections: ${hostileConnections}`,
	);
	t.true(hostileConnections >= 20, 'the hostile peers were connecting throughout');
	t.true(Math.max(...flooded) <= boundMs, `a login under the flood took ${Math.round(Math.max(...flooded))} ms against ${Math.round(idleMs)} ms idle`);
});

/**
 * Connects, initializes and fails one login, so that the next login from
 * here waits `failureDelayMs`; then pipelines that login with 31 frames of
 * 16 MiB behind it, written as fast as the daemon reads them.
 */
async function pipelineBehindDelayedLogin(port: number): Promise<void> {
	const raw = await RawClient.open(port);
	await raw.request(0, 'initialize', initializeParams, 30_000);
	await raw.request(1, 'auth/password', { user: 'nobody-here', password: 'wrong' }, 30_000);
	raw.send({ id: 2, method: 'auth/password', params: { user: 'nobody-here', password: 'wrong' } });
	const big = frameOf({ method: 'session/ping', params: { padding: 'x'.repeat(16 * MiB - 100) } });
	for (let i = 0; i < 31 && !raw.socket.destroyed; i += 1) await writeUntilClosed(raw, big);
	await raw.closesWithin(15_000);
	raw.destroy();
}

for (const connections of [1, 4]) {
	test.serial(`${connections} connection(s) pipelining 31 frames of 16 MiB behind a delayed login keep the daemon under 256 MiB`, async (t) => {
		t.timeout(120_000);
		const server = await startThrowawayDaemon(t, { config: { auth: { failureDelayMs: 4000, maxFailureDelayMs: 8000, maxStartups: '100' } } });
		const before = await residentBytes(server.pid);
		const watch = watchResident(server.pid);
		await Promise.all(Array.from({ length: connections }, () => pipelineBehindDelayedLogin(server.port)));
		const largest = await watch.stop();
		t.log(`daemon VmRSS: ${(before / MiB).toFixed(0)} MiB before, at most ${(largest / MiB).toFixed(0)} MiB during the flood`);
		t.true(largest < rssBoundBytes, `VmRSS reached ${(largest / MiB).toFixed(0)} MiB`);
		const after = await RawClient.open(server.port);
		t.is((await after.request(0, 'initialize', initializeParams)).result.protocolVersion, '0.1.0', 'the daemon still serves');
		after.destroy();
	});
}

test.serial('800 frames pipelined in one write behind a delayed login, or behind a bad frame, log at most one line', async (t) => {
	t.timeout(60_000);
	const server = await startThrowawayDaemon(t, { config: { auth: { failureDelayMs: 2000, maxStartups: '100' } } });
	const warnings = () => server.log.filter((line) => /closing connection|queued/.test(String(line.msg))).length;
	const pings = Buffer.concat(Array.from({ length: 800 }, (_, i) => frameOf({ id: 100 + i, method: 'session/ping' })));

	const raw = await RawClient.open(server.port);
	await raw.request(0, 'initialize', initializeParams, 30_000);
	await raw.request(1, 'auth/password', { user: 'nobody-here', password: 'wrong' }, 30_000);
	raw.sendBytes(Buffer.concat([frameOf({ id: 2, method: 'auth/password', params: { user: 'nobody-here', password: 'wrong' } }), pings]));
	await raw.closesWithin(6000);
	raw.destroy();
	await sleep(500); // the daemon's log arrives through a pipe
	t.true(warnings() <= 1, `${warnings()} lines were logged for one connection`);

	const before = warnings();
	const broken = await RawClient.open(server.port);
	broken.sendBytes(Buffer.concat([Buffer.from('Content-Length: 3\r\n\r\n{x}'), pings]));
	t.true(await broken.closesWithin(5000));
	await sleep(200);
	t.is(warnings() - before, 1, 'the bad frame is logged once; nothing behind it is decoded');
});

test.serial('a 100k-deep message pipelined right behind a successful login is relayed raw: one answer for the login', async (t) => {
	t.timeout(60_000);
	const user = await newUser();
	const server = await startThrowawayDaemon(t, { config: { auth: { maxStartups: '100' } } });
	const raw = await RawClient.open(server.port);
	await raw.request(0, 'initialize', initializeParams, 30_000);
	const deepParams = `{"jsonrpc":"2.0","id":2,"method":"session/ping","params":${'['.repeat(100_000)}${']'.repeat(100_000)}}`;
	raw.sendBytes(
		Buffer.concat([
			frameOf({ id: 1, method: 'auth/password', params: { user: user.name, password: user.password } }),
			encodeFrame(Buffer.from(deepParams)),
			frameOf({ id: 3, method: 'session/ping' }),
		]),
	);
	const answers: any[] = [];
	for (;;) {
		const answer = await raw.next(30_000).catch(() => undefined);
		if (!answer) break;
		answers.push(answer);
	}
	t.log(JSON.stringify(answers.map((answer) => ({ id: answer.id, ok: 'result' in answer, code: answer.error?.code }))));
	t.deepEqual(
		answers.filter((answer) => answer.id === 1).map((answer) => answer.result),
		[{ user: user.name }],
		'exactly one answer, the login result',
	);
	t.deepEqual(
		answers.filter((answer) => answer.id !== 1).map((answer) => ({ id: answer.id, code: answer.error?.code })),
		[{ id: null, code: -32700 }],
		'the session host refuses the deep message as a parse error and closes; the ping behind it is not served',
	);
	t.true(await raw.closesWithin(5000));
	t.false(
		server.log.some((line) => /login request failed/.test(String(line.msg))),
		'the daemon never failed the login request',
	);
	const fresh = await RawClient.open(server.port);
	t.is((await fresh.request(0, 'initialize', initializeParams)).result.protocolVersion, '0.1.0');
	fresh.destroy();
});
