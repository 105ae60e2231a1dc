import test from 'ava';
import { ErrorCodes, type RemoteSession } from '@spyder-remote/client';
import { withTestUsers, type TestUser } from './helpers/os-users.js';
import { RawClient, startTestServer, type TestServer } from './helpers/server.js';
import { requireRoot } from './helpers/root.js';

const newUser = withTestUsers(test);
let server: TestServer;
let user: TestUser;
let bystander: RemoteSession;

test.before(async () => {
	requireRoot('framing tests need root: they log a real OS user in');
	user = await newUser();
	server = await startTestServer({ limits: { maxMessageBytes: 1024 * 1024, maxHeaderBytes: 1024 }, auth: { maxStartups: '100' } });
	bystander = await server.open();
	await bystander.loginWithPassword(user.name, user.password);
});
test.after.always(async () => {
	bystander?.destroy();
	await server?.stop();
});

const badFrames: Record<string, string | Buffer> = {
	'no Content-Length': 'Content-Type: application/vscode-jsonrpc; charset=utf-8\r\n\r\n{}',
	'a non-numeric Content-Length': 'Content-Length: abc\r\n\r\n{}',
	'a negative Content-Length': 'Content-Length: -5\r\n\r\n{}',
	'Content-Length 1e12': 'Content-Length: 1000000000000\r\n\r\n',
	'Content-Length above the limit': `Content-Length: ${2 * 1024 * 1024}\r\n\r\n`,
	'a header line without a colon': 'Content-Length: 2\r\nbogus\r\n\r\n{}',
	'a flood with no CRLFCRLF': Buffer.alloc(256 * 1024, 'A'),
	'invalid JSON': 'Content-Length: 8\r\n\r\n{"jsonrp',
	'a JSON-RPC batch': 'Content-Length: 2\r\n\r\n[]',
};

async function loggedInRaw(): Promise<RawClient> {
	const raw = await RawClient.open(server.server.port);
	await raw.initialize();
	const login = await raw.request(1, 'auth/password', { user: user.name, password: user.password });
	if (!login.result) throw new Error(`login failed: ${JSON.stringify(login)}`);
	return raw;
}

for (const [name, bytes] of Object.entries(badFrames)) {
	for (const phase of ['before login (daemon)', 'after login (session host)'] as const) {
		test(`${name} ${phase} closes only that connection`, async (t) => {
			const raw = phase.startsWith('before') ? await RawClient.open(server.server.port) : await loggedInRaw();
			raw.sendBytes(bytes);
			if (name === 'invalid JSON') {
				const answer = await raw.next();
				t.is(answer.id, null);
				t.is(answer.error.code, ErrorCodes.ParseError);
			}
			if (name === 'a JSON-RPC batch') t.is((await raw.next()).error.code, ErrorCodes.InvalidRequest);
			t.true(await raw.closesWithin(3000), 'the offending connection is closed');
			t.deepEqual(await bystander.ping(), {}, 'another client keeps getting answers');
			const fresh = await RawClient.open(server.server.port);
			t.is((await fresh.initialize()).result.protocolVersion, '0.1.0', 'the server still accepts connections');
			fresh.destroy();
		});
	}
}

test('a header or body split across many small writes still parses', async (t) => {
	const raw = await RawClient.open(server.server.port);
	const body = JSON.stringify({
		jsonrpc: '2.0',
		id: 9,
		method: 'initialize',
		params: { protocolVersion: '0.1.0', clientInfo: { name: 'slow' }, capabilities: {} },
	});
	const frame = Buffer.from(`Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
	for (let offset = 0; offset < frame.length; offset += 7) {
		raw.sendBytes(frame.subarray(offset, offset + 7));
		await new Promise((resolve) => setImmediate(resolve));
	}
	t.is((await raw.next()).id, 9);
	raw.destroy();
});

test('a message at the size limit is accepted after login', async (t) => {
	const raw = await loggedInRaw();
	const padding = 'x'.repeat(1024 * 1024 - 200);
	const answer = await raw.request(2, 'session/ping', undefined);
	t.deepEqual(answer.result, {});
	raw.send({ id: 3, method: 'session/ping', params: { padding } });
	t.is((await raw.next()).error.code, ErrorCodes.InvalidParams, 'ping takes no params, but the frame itself was read');
	raw.destroy();
});

test('before login a frame above maxPreLoginMessageBytes is refused at its header; after login it is read', async (t) => {
	const params = { padding: 'x'.repeat(100 * 1024) };
	const early = await RawClient.open(server.server.port);
	await early.initialize();
	early.send({ id: 1, method: 'session/ping', params });
	t.true(await early.closesWithin(3000), 'closed with no answer');
	const late = await loggedInRaw();
	late.send({ id: 2, method: 'session/ping', params });
	t.is((await late.next()).error.code, ErrorCodes.InvalidParams, 'the session host reads it under maxMessageBytes');
	late.destroy();
});

const nestedParams = (depth: number) => `{"jsonrpc":"2.0","id":5,"method":"session/ping","params":${'['.repeat(depth)}${']'.repeat(depth)}}`;
const sendBody = (raw: RawClient, body: string) => raw.sendBytes(`Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);

for (const [phase, allowed] of [
	['before login', 32],
	['after login', 256],
] as const) {
	test(`${phase}, nesting deeper than ${allowed} is a parse error that closes the connection; ${allowed} is served`, async (t) => {
		const open = async () => {
			if (phase === 'after login') return loggedInRaw();
			const raw = await RawClient.open(server.server.port);
			await raw.initialize();
			return raw;
		};
		const fine = await open();
		// Depth counts the params' arrays and the message object itself.
		sendBody(fine, nestedParams(allowed - 1));
		t.is((await fine.next()).id, 5, 'answered');
		fine.destroy();
		const deep = await open();
		sendBody(deep, nestedParams(allowed));
		const answer = await deep.next();
		t.is(answer.id, null);
		t.is(answer.error.code, ErrorCodes.ParseError);
		t.true(await deep.closesWithin(3000));
		t.deepEqual(await bystander.ping(), {});
	});
}
