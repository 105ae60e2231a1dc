import { chmod, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import test from 'ava';
import nacl from 'tweetnacl';
import { ErrorCodes, HostKeyMismatchError, RemoteError, UnknownHostError, type KeyPair } from '@spyder-remote/client';
import { runAs } from './helpers/as-user.js';
import { withTestUsers, type TestUser } from './helpers/os-users.js';
import { RawClient, startTestServer, temporaryKnownHosts, type LogRecord, type TestServer } from './helpers/server.js';
import { requireRoot } from './helpers/root.js';

const newUser = withTestUsers(test);
let server: TestServer;
const logs: LogRecord[] = [];
let alice: TestUser;
let bob: TestUser;
let expired: TestUser;

test.before(async () => {
	requireRoot('login tests need root: they create OS users and start session hosts with setpriv');
	[alice, bob, expired] = await Promise.all([newUser(), newUser(), newUser({ expired: true })]);
	server = await startTestServer({ auth: { maxStartups: '100' } }, { onLog: (record) => logs.push(record) });
});
test.after.always(async () => server?.stop());

const keyPair = (): KeyPair => nacl.sign.keyPair();

async function loginError(user: string, password: string): Promise<RemoteError> {
	const session = await server.open();
	try {
		return await session.loginWithPassword(user, password).then(
			() => {
				throw new Error('login unexpectedly succeeded');
			},
			(error: RemoteError) => error,
		);
	} finally {
		session.destroy();
	}
}

test('the right password gives a session host running as the user, with their groups', async (t) => {
	const session = await server.open();
	t.deepEqual(await session.loginWithPassword(alice.name, alice.password), { user: alice.name });
	const who = await session.whoami();
	t.is(who.user, alice.name);
	t.is(who.uid, alice.uid);
	t.is(who.gid, alice.gid);
	t.deepEqual(new Set(who.groups.map((group) => group.gid)), new Set([alice.gid, ...alice.groups]));
	t.true(who.groups.some((group) => group.name === alice.supplementaryGroup));
	t.is(who.home, alice.home);

	// The kernel's view of the session host, not its own word: real ids and a clean environment.
	const status = await readFile(`/proc/${who.pid}/status`, 'utf8');
	t.regex(status, new RegExp(`^Uid:\\s+${alice.uid}\\s+${alice.uid}\\s+${alice.uid}\\s+${alice.uid}$`, 'm'));
	t.regex(status, new RegExp(`^Gid:\\s+${alice.gid}\\s+${alice.gid}\\s+${alice.gid}\\s+${alice.gid}$`, 'm'));
	const environment = (await readFile(`/proc/${who.pid}/environ`, 'utf8')).split('\0').filter(Boolean);
	t.true(environment.includes(`HOME=${alice.home}`));
	t.true(environment.includes(`USER=${alice.name}`));
	t.false(
		environment.some((entry) => entry.startsWith('npm_') || entry.startsWith('AVA')),
		'no variable leaks from the root side',
	);
	await session.close();
});

test('wrong password, unknown user and expired account get the same answer', async (t) => {
	const errors = await Promise.all([
		loginError(alice.name, 'not-the-password'),
		loginError(`nosuch_${alice.name}`, 'whatever'),
		loginError(expired.name, expired.password),
	]);
	for (const error of errors) {
		t.true(error instanceof RemoteError);
		t.is(error.code, ErrorCodes.AuthenticationFailed);
		t.is(error.message, errors[0]!.message);
	}
});

test("a registered key logs in without a password; another user's key is refused", async (t) => {
	const aliceKey = keyPair();
	const bobKey = keyPair();
	for (const [user, key] of [
		[alice, aliceKey],
		[bob, bobKey],
	] as const) {
		const session = await server.open();
		await session.loginWithPassword(user.name, user.password);
		t.true((await session.registerKey(key)).added);
		t.false((await session.registerKey(key)).added, 'registering twice is harmless');
		await session.close();
	}
	const stat = await import('node:fs/promises').then((fs) => fs.stat(join(alice.home, '.config/spyder-remote/authorized_keys')));
	t.is(stat.uid, alice.uid, 'the key file belongs to the user');
	t.is(stat.mode & 0o777, 0o600);

	const keySession = await server.open();
	t.deepEqual(await keySession.loginWithKey(alice.name, aliceKey), { user: alice.name });
	t.is((await keySession.whoami()).uid, alice.uid);
	await keySession.close();

	const wrongKey = await server.open();
	const error = await t.throwsAsync(wrongKey.loginWithKey(alice.name, bobKey), { instanceOf: RemoteError });
	t.is(error?.code, ErrorCodes.AuthenticationFailed);
	wrongKey.destroy();
});

test('a key file others could write is ignored, as OpenSSH StrictModes does', async (t) => {
	// A user of its own: another test registering a key would rewrite the file with safe modes.
	const carol = await newUser();
	const key = keyPair();
	const session = await server.open();
	await session.loginWithPassword(carol.name, carol.password);
	await session.registerKey(key);
	await session.close();
	const file = join(carol.home, '.config/spyder-remote/authorized_keys');
	await chmod(file, 0o666);
	try {
		const attempt = await server.open();
		const error = await t.throwsAsync(attempt.loginWithKey(carol.name, key), { instanceOf: RemoteError });
		t.is(error?.code, ErrorCodes.AuthenticationFailed);
		attempt.destroy();
	} finally {
		await chmod(file, 0o600);
	}
});

test('a key signature from one connection cannot be replayed on another', async (t) => {
	const raw = await RawClient.open(server.server.port);
	await raw.initialize();
	const key = keyPair();
	const publicKey = Buffer.from(key.publicKey).toString('base64');
	const challenge = await raw.request(1, 'auth/challenge', { user: alice.name, publicKey });
	t.truthy(challenge.result.nonce);
	// A signature made without this connection's channel binding must fail.
	const signature = Buffer.from(nacl.sign.detached(Buffer.from(challenge.result.nonce, 'base64'), key.secretKey)).toString('base64');
	const answer = await raw.request(2, 'auth/publicKey', { user: alice.name, publicKey, signature });
	t.is(answer.error.code, ErrorCodes.AuthenticationFailed);
	raw.destroy();
});

test('requests before initialize or before login get an error and no data', async (t) => {
	const raw = await RawClient.open(server.server.port);
	t.is((await raw.request(1, 'session/whoami')).error.code, ErrorCodes.ServerNotInitialized);
	await raw.initialize();
	const refused = await raw.request(2, 'session/whoami');
	t.is(refused.error.code, ErrorCodes.Unauthenticated);
	t.is(refused.result, undefined);
	t.is((await raw.request(3, 'no/such/method')).error.code, ErrorCodes.MethodNotFound);
	t.is((await raw.request(4, 'auth/password', { user: 'x', password: 7 })).error.code, ErrorCodes.InvalidParams);
	t.is((await raw.request(5, 'auth/password', { user: '-oProxyCommand', password: 'x' })).error.code, ErrorCodes.InvalidParams);
	raw.destroy();

	const session = await server.open();
	const error = await t.throwsAsync(session.whoami(), { instanceOf: RemoteError });
	t.is(error?.code, ErrorCodes.Unauthenticated);
	session.destroy();
});

test('a protocol version mismatch names both versions', async (t) => {
	const raw = await RawClient.open(server.server.port);
	const answer = await raw.initialize('7.0.0');
	t.is(answer.error.code, ErrorCodes.ProtocolVersionMismatch);
	t.regex(answer.error.message, /7\.0\.0/);
	t.regex(answer.error.message, /0\.1\.0/);
	raw.destroy();
});

test('messages pipelined behind a login are served after it, none lost', async (t) => {
	const raw = await RawClient.open(server.server.port);
	await raw.initialize();
	raw.send({ id: 1, method: 'auth/password', params: { user: alice.name, password: alice.password } });
	raw.send({ id: 2, method: 'session/ping' });
	raw.send({ id: 3, method: 'session/whoami' });
	const answers = [await raw.next(10_000), await raw.next(), await raw.next()];
	t.deepEqual(
		answers.map((answer) => answer.id),
		[1, 2, 3],
	);
	t.is(answers[0].result.user, alice.name);
	t.deepEqual(answers[1].result, {}, 'queued behind the login, then served as the user');
	t.is(answers[2].result.uid, alice.uid);
	t.deepEqual((await raw.request(4, 'session/ping')).result, {});
	raw.destroy();
});

test('the client refuses a changed server certificate', async (t) => {
	const knownHosts = await temporaryKnownHosts();
	const other = 'SHA256:' + 'A'.repeat(43);
	const changed = await t.throwsAsync(server.open({ fingerprint: other }), { instanceOf: HostKeyMismatchError, message: /has changed/ });
	t.deepEqual(changed!.pinnedBy, { kind: 'option' });
	const unknown = await t.throwsAsync(server.open({ fingerprint: undefined, knownHosts }), { instanceOf: UnknownHostError });
	// A library names no flag: what to pass, and where, is the caller's to say.
	for (const message of [changed!.message, unknown!.message]) t.notRegex(message, /--/);
	const accepted = await server.open({ fingerprint: undefined, knownHosts, onUnknownHost: () => true });
	accepted.destroy();
	t.is(await knownHosts.lookup('127.0.0.1', server.server.port), server.server.fingerprint, 'trust on first use pins the fingerprint');
	await knownHosts.pin('127.0.0.1', server.server.port, other);
	const error = await t.throwsAsync(server.open({ fingerprint: undefined, knownHosts, onUnknownHost: () => true }), { instanceOf: HostKeyMismatchError });
	t.regex(error!.message, new RegExp(server.server.fingerprint.replace(/[+/]/g, '\\$&')));
	t.deepEqual(error!.pinnedBy, { kind: 'known-hosts', file: knownHosts.file });
});

test("a failed PAM login does not delay another client's requests", async (t) => {
	const busy = await server.open();
	await busy.loginWithPassword(alice.name, alice.password);
	const failing = loginError(bob.name, 'wrong password'); // pam_unix holds this for 2-4 s
	const started = Date.now();
	let slowest = 0;
	let count = 0;
	while (Date.now() - started < 1500) {
		const before = performance.now();
		await busy.ping();
		slowest = Math.max(slowest, performance.now() - before);
		count += 1;
	}
	t.is((await failing).code, ErrorCodes.AuthenticationFailed);
	t.log(`${count} pings during a failing login, slowest ${slowest.toFixed(1)} ms`);
	// pam_unix holds a failure for 2-4 s: a blocked event loop would show that here. Below it is scheduling noise on a loaded machine.
	t.true(slowest < 1000, `slowest ping took ${slowest} ms`);
	await busy.close();
});

test('after too many failures the connection is closed', async (t) => {
	const raw = await RawClient.open(server.server.port);
	await raw.initialize();
	const codes: number[] = [];
	// Failed PAM logins queue behind each other (and behind other files' logins) for 2-4 s each: allow for it.
	for (let id = 1; id <= 6; id += 1) codes.push((await raw.request(id, 'auth/password', { user: `nosuch_${id}`, password: 'x' }, 30_000)).error.code);
	t.deepEqual(codes, [1002, 1002, 1002, 1002, 1002, ErrorCodes.TooManyAuthAttempts]);
	t.true(await raw.closesWithin(2000));
});

test("a user who swaps their host socket for a link to another user's is still served as themselves", async (t) => {
	const [mallory, victim] = await Promise.all([newUser(), newUser()]);
	const victimSession = await server.open();
	await victimSession.loginWithPassword(victim.name, victim.password);
	const first = await server.open();
	await first.loginWithPassword(mallory.name, mallory.password);
	await first.close();
	const sessions = join(server.directory, 'run', 'sessions');
	const victimSocket = join(sessions, String(victim.uid), (await readdir(join(sessions, String(victim.uid)))).find((entry) => entry.endsWith('.sock'))!);
	const malloryDirectory = join(sessions, String(mallory.uid));
	for (const entry of await readdir(malloryDirectory)) {
		if (!entry.endsWith('.sock')) continue;
		// Done as mallory would: in a directory mallory owns, with mallory's rights.
		await runAs(mallory, '/usr/bin/rm', ['-f', join(malloryDirectory, entry)]);
		await runAs(mallory, '/usr/bin/ln', ['-s', victimSocket, join(malloryDirectory, entry)]);
	}
	const second = await server.open();
	await second.loginWithPassword(mallory.name, mallory.password);
	const who = await second.whoami();
	t.is(who.uid, mallory.uid);
	t.is(who.user, mallory.name);
	// Served as themselves, and the log says who put something else at their socket, from where.
	const warning = logs.find((record) => record.user === mallory.name && /did not answer as this user's session host/.test(String(record.reason)));
	t.like(warning, { level: 40, peer: '127.0.0.1', uid: mallory.uid });
	await second.close();
	t.is((await victimSession.whoami()).uid, victim.uid);
	await victimSession.close();
});
