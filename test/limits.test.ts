import test from 'ava';
import { ErrorCodes } from '@spyder-remote/client';
import { encodeFrame } from '@spyder-remote/protocol/node';
import { RawClient, startTestServer, type TestServer } from './helpers/server.js';

let server: TestServer;
test.before(async () => {
	server = await startTestServer({ auth: { loginGraceTime: 2, maxStartups: '4' } });
});
test.after.always(async () => server?.stop());

test.serial('an unauthenticated connection is closed after the login grace time', async (t) => {
	const raw = await RawClient.open(server.server.port);
	await raw.initialize();
	t.false(await raw.closesWithin(1000));
	t.true(await raw.closesWithin(2500));
});

test.serial('unauthenticated connections beyond maxStartups are dropped', async (t) => {
	const held = await Promise.all([1, 2, 3, 4].map(() => RawClient.open(server.server.port)));
	await t.throwsAsync(async () => {
		const extra = await RawClient.open(server.server.port);
		await extra.initialize();
	});
	for (const raw of held) raw.destroy();
	await new Promise((resolve) => setTimeout(resolve, 200));
	const later = await RawClient.open(server.server.port);
	t.is((await later.initialize()).result.protocolVersion, '0.1.0', 'a slot frees when a connection goes');
	later.destroy();
});

test.serial('shutdown then exit: requests in between are refused', async (t) => {
	const raw = await RawClient.open(server.server.port);
	await raw.initialize();
	t.is((await raw.request(1, 'shutdown')).result, null);
	t.is((await raw.request(2, 'auth/password', { user: 'a', password: 'b' })).error.code, ErrorCodes.ShuttingDown);
	raw.send({ method: 'exit' });
	t.true(await raw.closesWithin(2000));
});

/** A wrong login, so that the next one from here waits `failureDelayMs`; then that login with `pings` pinged behind it in one write. */
async function pipelineBehindDelayedLogin(raw: RawClient, pings: number): Promise<void> {
	await raw.initialize();
	await raw.request(1, 'auth/password', { user: 'nobody-here', password: 'wrong' }, 10_000);
	const padding = 'x'.repeat(1000);
	const frames: object[] = [{ id: 2, method: 'auth/password', params: { user: 'nobody-here', password: 'wrong' } }];
	for (let i = 0; i < pings; i += 1) frames.push({ id: 10 + i, method: 'session/ping', params: { padding } });
	raw.sendBytes(Buffer.concat(frames.map((frame) => encodeFrame(Buffer.from(JSON.stringify({ jsonrpc: '2.0', ...frame }))))));
}

test.serial('pipelining past the per-connection queue share only waits: every message is answered in order', async (t) => {
	const delayed = await startTestServer({ auth: { failureDelayMs: 1000 }, limits: { maxPreLoginQueueBytes: 64 * 1024 } });
	t.teardown(() => delayed.stop());
	const raw = await RawClient.open(delayed.server.port);
	// About 1 MiB behind a login that waits a second, against a share of 72 KiB (one frame and its header).
	await pipelineBehindDelayedLogin(raw, 1000);
	t.is((await raw.next(10_000)).id, 2);
	const ids: number[] = [];
	for (let i = 0; i < 1000; i += 1) ids.push((await raw.next(10_000)).id);
	t.deepEqual(
		ids,
		Array.from({ length: 1000 }, (_, i) => 10 + i),
	);
	raw.destroy();
});

test.serial('past maxPreLoginTotalBytes a connection holding more than one frame is closed; a small one is served', async (t) => {
	const tight = await startTestServer({ auth: { failureDelayMs: 2000 }, limits: { maxPreLoginTotalBytes: 1024 } });
	t.teardown(() => tight.stop());
	const hog = await RawClient.open(tight.server.port);
	await pipelineBehindDelayedLogin(hog, 200);
	t.true(await hog.closesWithin(1500), 'closed before its delayed login was answered');
	const small = await RawClient.open(tight.server.port);
	t.is((await small.initialize()).result.protocolVersion, '0.1.0');
	small.destroy();
});
