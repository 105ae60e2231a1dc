import test from 'ava';
import { ErrorCodes } from '@spyder-remote/client';
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
