import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import test from 'ava';
import { execa } from 'execa';
import nacl from 'tweetnacl';
import { ErrorCodes, RemoteError, type KeyPair } from '@spyder-remote/client';
import { withTestUsers, type TestUser } from './helpers/os-users.js';
import { RawClient, startTestServer, type TestServer } from './helpers/server.js';
import { requireRoot } from './helpers/root.js';

/*
 * Serial: the nologin file and the session log belong to the one PAM service all tests share.
 * Logins that authenticate fine but must still be refused: by PAM's account
 * stack (expired account, nologin), by a locked password, by the login shell,
 * and by the allow/deny lists; each with the answer of a wrong password.
 * The PAM service is the test's own copy of the shipped file, so that the
 * nologin file and a session recorder are this test's and no one else's.
 */

const newUser = withTestUsers(test);
const service = `ssdt-${randomBytes(4).toString('hex')}`;
let directory: string;
let nologinFile: string;
let sessionLog: string;
let server: TestServer;
const extraServers: TestServer[] = [];

test.before(async () => {
	requireRoot('these tests need root: they create OS users and a PAM service');
	directory = await mkdtemp(join(tmpdir(), 'ssdt-policy-'));
	nologinFile = join(directory, 'nologin');
	sessionLog = join(directory, 'sessions.log');
	const shipped = await readFile('server/pam/spyder-remote', 'utf8');
	const own = shipped.replace(/^account\s+required\s+pam_nologin\.so$/m, `account required pam_nologin.so file=${nologinFile}`);
	if (own === shipped) throw new Error('the shipped PAM file has no pam_nologin line to point at a test file');
	// pam_exec appends the command's output to log=: one "open_session"/"close_session" line and the user per event.
	await writeFile(`/etc/pam.d/${service}`, `${own}\nsession required pam_exec.so log=${sessionLog} /usr/bin/printenv PAM_TYPE PAM_USER\n`);
	server = await startTestServer({ auth: { pamService: service, maxStartups: '100' }, sessionHost: { idleTimeout: 1 } });
});
test.after.always(async () => {
	await Promise.all([server, ...extraServers].map((running) => running?.stop()));
	await rm(`/etc/pam.d/${service}`, { force: true });
	if (directory) await rm(directory, { recursive: true, force: true });
});

async function serverWith(auth: Record<string, unknown>): Promise<TestServer> {
	const running = await startTestServer({ auth: { pamService: service, ...auth } });
	extraServers.push(running);
	return running;
}

/** The error a login gets, or undefined when it succeeds. */
async function loginError(on: TestServer, login: (session: Awaited<ReturnType<TestServer['open']>>) => Promise<unknown>): Promise<RemoteError | undefined> {
	const session = await on.open();
	try {
		await login(session);
		return undefined;
	} catch (error) {
		if (!(error instanceof RemoteError)) throw error;
		return error;
	} finally {
		session.destroy();
	}
}
const passwordError = (user: TestUser, on = server, password = user.password) => loginError(on, (session) => session.loginWithPassword(user.name, password));
const keyError = (user: TestUser, key: KeyPair, on = server) => loginError(on, (session) => session.loginWithKey(user.name, key));

/** A user with a registered key, whose key login is shown to work before the test changes the account. */
async function userWithKey(t: {
	truthy(value: unknown, message?: string): void;
	is(a: unknown, b: unknown, message?: string): void;
}): Promise<{ user: TestUser; key: KeyPair }> {
	const user = await newUser();
	const key = nacl.sign.keyPair();
	const session = await server.open();
	await session.loginWithPassword(user.name, user.password);
	await session.registerKey(key);
	await session.close();
	t.is(await keyError(user, key), undefined, 'the key logs in before the account is changed');
	return { user, key };
}

/** Refused exactly as a wrong password is. */
async function assertRefused(
	t: { is(a: unknown, b: unknown, message?: string): void; truthy(value: unknown, message?: string): void },
	error: RemoteError | undefined,
	what: string,
) {
	wrongPassword ??= passwordError(await sharedUser(), server, 'not-the-password');
	t.truthy(error, `${what}: the login must be refused`);
	t.is(error?.code, ErrorCodes.AuthenticationFailed, what);
	t.is(error?.message, (await wrongPassword)?.message, `${what}: the same answer as a wrong password`);
}
let wrongPassword: Promise<RemoteError | undefined> | undefined;
let shared: Promise<TestUser> | undefined;
const sharedUser = () => (shared ??= newUser());

test.serial('a key does not log in to an expired account (chage -E 0)', async (t) => {
	const { user, key } = await userWithKey(t);
	await execa('chage', ['--expiredate', '0', user.name]);
	await assertRefused(t, await keyError(user, key), 'key login to an expired account');
	await assertRefused(t, await passwordError(user), 'password login to an expired account');
});

test.serial('a key does not log in to a locked account (usermod -L)', async (t) => {
	const { user, key } = await userWithKey(t);
	await execa('usermod', ['--lock', user.name]);
	await assertRefused(t, await keyError(user, key), 'key login to a locked account');
	await execa('usermod', ['--unlock', user.name]);
	t.is(await keyError(user, key), undefined, 'unlocked, the key logs in again');
});

test.serial('a nologin file stops key and password logins until it is removed', async (t) => {
	const { user, key } = await userWithKey(t);
	await writeFile(nologinFile, 'maintenance\n');
	try {
		await assertRefused(t, await keyError(user, key), 'key login under nologin');
		await assertRefused(t, await passwordError(user), 'password login under nologin');
	} finally {
		await rm(nologinFile, { force: true });
	}
	t.is(await keyError(user, key), undefined, 'without the file the key logs in again');
});

test.serial('accounts without a real login shell are refused, unless auth.permitNoShell', async (t) => {
	const shells = ['/usr/sbin/nologin', '/bin/false', '', `/usr/bin/ssdt-no-such-shell-${randomBytes(3).toString('hex')}`];
	const users = await Promise.all(shells.map(() => newUser()));
	// One at a time: usermod serialises on the shadow lock.
	for (const [i, shell] of shells.entries()) await execa('usermod', ['--shell', shell, users[i]!.name]);
	for (const [i, user] of users.entries()) await assertRefused(t, await passwordError(user), `login shell ${JSON.stringify(shells[i])}`);
	const permissive = await serverWith({ permitNoShell: true });
	for (const [i, user] of users.entries())
		t.is(await passwordError(user, permissive), undefined, `login shell ${JSON.stringify(shells[i])} with auth.permitNoShell`);
});

test.serial('allowUsers, denyUsers, allowGroups and denyGroups, deny first, supplementary groups included', async (t) => {
	const [alice, bob, carol] = await Promise.all([newUser(), newUser(), newUser()]);
	const allowAlice = await serverWith({ allowUsers: [alice.name] });
	t.is(await passwordError(alice, allowAlice), undefined, 'alice is in allowUsers');
	await assertRefused(t, await passwordError(bob, allowAlice), 'bob is not in allowUsers');

	const denyFirst = await serverWith({ allowUsers: [alice.name, bob.name], denyUsers: [bob.name] });
	await assertRefused(t, await passwordError(bob, denyFirst), 'bob is in denyUsers and allowUsers');
	t.is(await passwordError(alice, denyFirst), undefined);

	// Each test user's supplementary group is its own; only carol is in it.
	const groups = await serverWith({ allowGroups: [alice.supplementaryGroup, carol.supplementaryGroup], denyGroups: [carol.supplementaryGroup] });
	t.is(await passwordError(alice, groups), undefined, 'alice is in an allowed supplementary group');
	await assertRefused(t, await passwordError(bob, groups), 'bob is in no allowed group');
	await assertRefused(t, await passwordError(carol, groups), 'carol is in a denied supplementary group');

	const primary = await serverWith({ allowGroups: [bob.name] });
	t.is(await passwordError(bob, primary), undefined, "bob's primary group (useradd's user group) counts");
	await assertRefused(t, await passwordError(alice, primary), 'alice is not in the group');
});

test.serial("the banner reaches the client before login, in the initialize result and on the CLI's stderr", async (t) => {
	const bannerFile = join(directory, 'banner');
	await writeFile(bannerFile, 'Authorised use only.\n\u001b[2Jno escapes\n');
	const withBanner = await serverWith({ bannerFile });
	const raw = await RawClient.open(withBanner.server.port);
	const answer = await raw.initialize();
	raw.destroy();
	t.is(answer.result.banner, 'Authorised use only.\n\u001b[2Jno escapes\n');
	const plain = await RawClient.open(server.server.port);
	t.false('banner' in (await plain.initialize()).result, 'no banner configured, none sent');
	plain.destroy();

	const user = await sharedUser();
	const configDir = await mkdtemp(join(tmpdir(), 'ssdt-client-'));
	const result = await execa(
		process.execPath,
		[
			'client-lib/dist/bin/ssd.js',
			'whoami',
			`127.0.0.1:${withBanner.server.port}`,
			'--user',
			user.name,
			'--password-stdin',
			'--fingerprint',
			withBanner.server.fingerprint,
		],
		{ reject: false, input: `${user.password}\n`, env: { SPYDER_REMOTE_CONFIG_DIR: configDir } },
	);
	await rm(configDir, { recursive: true, force: true });
	t.is(result.exitCode, 0, result.stderr);
	// execa drops the final newline.
	t.true(
		result.stderr.startsWith('Authorised use only.\n\\x1b[2Jno escapes'),
		`printed first, with the escape made harmless: ${JSON.stringify(result.stderr)}`,
	);
	t.false(result.stdout.includes('Authorised'), 'not on stdout');
});

test.serial('the session host runs inside a PAM session that closes when the host exits', async (t) => {
	const user = await newUser();
	const events = async () =>
		(await readFile(sessionLog, 'utf8').catch(() => ''))
			.split('\n')
			.reduce<string[]>((found, line, i, lines) => (lines[i + 1] === user.name && /_session$/.test(line) ? [...found, line] : found), []);
	const session = await server.open();
	await session.loginWithPassword(user.name, user.password);
	const { pid } = await session.whoami();
	t.deepEqual(await events(), ['open_session'], 'opened when the host started');
	await session.close();
	// idleTimeout is 1 s: the host exits, then the daemon closes the session.
	for (let waited = 0; (await events()).length < 2 && waited < 15_000; waited += 100) await sleep(100);
	t.deepEqual(await events(), ['open_session', 'close_session']);
	t.throws(() => process.kill(pid, 0), undefined, 'closed only after the host is gone');
});
