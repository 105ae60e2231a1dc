import { chmod, lstat, mkdir, readdir, rename, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import test from 'ava';
import nacl from 'tweetnacl';
import { ErrorCodes, RemoteError, type KeyPair } from '@spyder-remote/client';
import { runAs } from './helpers/as-user.js';
import { withTestUsers, type TestUser } from './helpers/os-users.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const newUser = withTestUsers(test);
let server: TestServer;
/** Run as the user: `setup DIR VICTIM TREES FILES` plants the trees, `swap DIR TREES` exchanges them in a loop. */
let swapper: string;

const TREES = 8;
const FILES = 20;
const LOGINS = 10;
const victimFiles = Array.from({ length: FILES }, (_, index) => `f${String(index).padStart(3, '0')}`);

const swapperScript = String.raw`
import ctypes, os, shutil, sys
mode, directory, trees = sys.argv[1], sys.argv[2], int(sys.argv[3])
pairs = [(os.path.join(directory, 'swap%d' % i), os.path.join(directory, 'link%d' % i)) for i in range(trees)]
if mode == 'setup':
    victim, files = sys.argv[4], int(sys.argv[5])
    os.chmod(directory, 0o755)
    for pair in pairs:
        for path in pair:
            if os.path.islink(path): os.unlink(path)
            elif os.path.isdir(path): shutil.rmtree(path)
        swap, link = pair
        os.mkdir(swap)
        for n in range(files): open(os.path.join(swap, 'f%03d' % n), 'w').close()
        os.symlink(victim, link)
else:
    libc = ctypes.CDLL(None, use_errno=True)
    AT_FDCWD, RENAME_EXCHANGE = -100, 2
    encoded = [(os.fsencode(a), os.fsencode(b)) for a, b in pairs]
    print('swapping', flush=True)
    while True:
        for a, b in encoded: libc.renameat2(AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE)
`;
import { requireRoot } from './helpers/root.js';

test.before(async () => {
	requireRoot('these attacks need root: they create OS users and run the daemon in system mode');
	server = await startTestServer({ auth: { maxStartups: '100' } });
	swapper = join(server.directory, 'swapper.py');
	await writeFile(swapper, swapperScript, { mode: 0o644 });
});
test.after.always(async () => server?.stop());

const userDirectoryOf = (user: TestUser) => join(server.directory, 'run', 'sessions', String(user.uid));
const keyPair = (): KeyPair => nacl.sign.keyPair();

/** A root-only directory an attack aims at: none of its files may ever go. One per test, as the tests run at once. */
async function makeVictim(name: string): Promise<string> {
	const victim = join(server.directory, name);
	await mkdir(victim, { mode: 0o700 });
	await Promise.all(victimFiles.map((file) => writeFile(join(victim, file), 'root only\n', { mode: 0o600 })));
	return victim;
}

async function isIntact(victim: string): Promise<boolean> {
	return (await readdir(victim).catch(() => [])).length === FILES;
}

/** Logs in, checks the host is the user's, and kills the host as the user would, so that the next login starts a new one. */
async function loginAndKillHost(user: TestUser): Promise<void> {
	const session = await server.open();
	await session.loginWithPassword(user.name, user.password);
	const who = await session.whoami();
	if (who.uid !== user.uid) throw new Error(`the session runs as uid ${who.uid}`);
	await runAs(user, '/bin/kill', ['-KILL', String(who.pid)]);
	session.destroy();
	for (const deadline = Date.now() + 5000; Date.now() < deadline; await sleep(20)) {
		if (
			!(await stat(`/proc/${who.pid}`).then(
				() => true,
				() => false,
			))
		)
			return;
	}
	throw new Error(`session host ${who.pid} did not go`);
}

async function assertPrivateDirectory(t: { is: (a: unknown, b: unknown, m?: string) => void }, user: TestUser): Promise<void> {
	const info = await lstat(userDirectoryOf(user));
	t.is(info.isDirectory(), true);
	t.is(info.uid, user.uid, 'owned by the user');
	t.is(info.gid, user.gid);
	t.is(info.mode & 0o7777, 0o700);
}

test('a user who opens up their runtime directory and races symlink swaps in it cannot make root delete anything', async (t) => {
	const [user, victim] = await Promise.all([newUser(), makeVictim('victim-race')]);
	await loginAndKillHost(user);
	const directory = userDirectoryOf(user);
	let attempts = 0;
	const failedLogins: string[] = [];
	for (let login = 0; login < LOGINS && (await isIntact(victim)); login++) {
		// The directory is the user's: they can reopen it and fill it before every login, as often as they like.
		await runAs(user, '/usr/bin/python3', [swapper, 'setup', directory, String(TREES), victim, String(FILES)]);
		const swapping = runAs(user, '/usr/bin/python3', [swapper, 'swap', directory, String(TREES)], { reject: false, buffer: false });
		await new Promise<void>((resolve) => swapping.stdout!.once('data', () => resolve()));
		try {
			// The attacker does not mind a failed login (the old code's rm could trip over the swaps): they try again.
			await loginAndKillHost(user).catch((error: Error) => failedLogins.push(error.message));
		} finally {
			swapping.kill('SIGKILL');
			await swapping;
		}
		attempts++;
	}
	t.log(`${attempts} logins while ${TREES} symlink swaps raced, ${failedLogins.length} failed`);
	t.deepEqual((await readdir(victim)).sort(), victimFiles, 'the root-only directory lost nothing');
	t.is(attempts, LOGINS);
	t.deepEqual(failedLogins, []);
	await assertPrivateDirectory(t, user);

	// The user's own files are theirs to keep: root neither removed nor entered them.
	t.true((await readdir(directory)).some((name) => name.startsWith('swap')));
	const session = await server.open();
	await session.loginWithPassword(user.name, user.password);
	t.is((await session.whoami()).uid, user.uid);
	await session.close();
});

test("a runtime directory that is not the user's own directory is moved aside, not followed or removed", async (t) => {
	const [linked, foreign, victim] = await Promise.all([newUser(), newUser(), makeVictim('victim-linked')]);
	// Only root can put entries into sessions/: what an interrupted start, an older daemon or an earlier account with the uid may have left.
	await mkdir(join(server.directory, 'run', 'sessions'), { recursive: true, mode: 0o711 });
	await symlink(victim, userDirectoryOf(linked));
	const foreignDirectory = userDirectoryOf(foreign);
	await mkdir(join(foreignDirectory, 'kept'), { recursive: true, mode: 0o700 });
	await writeFile(join(foreignDirectory, 'kept', 'file'), "another account's\n");
	await chmod(foreignDirectory, 0o755);

	for (const user of [linked, foreign]) {
		const session = await server.open();
		await session.loginWithPassword(user.name, user.password);
		t.is((await session.whoami()).uid, user.uid);
		await session.close();
		await assertPrivateDirectory(t, user);
	}
	t.deepEqual((await readdir(victim)).sort(), victimFiles);
	t.is((await stat(victim)).uid, 0, 'the victim was not given away');
	const sessions = await readdir(join(server.directory, 'run', 'sessions'));
	const aside = sessions.filter((name) => name.startsWith(`${foreign.uid}.aside-`));
	t.is(aside.length, 1);
	t.is((await readdir(join(server.directory, 'run', 'sessions', aside[0]!, 'kept'))).length, 1, 'the old contents are kept for the administrator');
	t.true(sessions.some((name) => name.startsWith(`${linked.uid}.aside-`)));
});

async function keyLogin(user: TestUser, key: KeyPair): Promise<RemoteError | undefined> {
	const session = await server.open();
	try {
		await session.loginWithKey(user.name, key);
		return undefined;
	} catch (error) {
		return error as RemoteError;
	} finally {
		session.destroy();
	}
}

test('root reads authorized_keys only through real directories the user owns, and never blocks on a FIFO', async (t) => {
	const user = await newUser();
	const key = keyPair();
	const session = await server.open();
	await session.loginWithPassword(user.name, user.password);
	await session.registerKey(key);
	await session.close();
	t.is(await keyLogin(user, key), undefined, 'the key logs in');

	// A symlinked directory on the way: refused, whatever it points to.
	const config = join(user.home, '.config');
	await runAs(user, '/usr/bin/mv', ['--', config, join(user.home, 'elsewhere')]);
	await runAs(user, '/usr/bin/ln', ['-s', '--', join(user.home, 'elsewhere'), config]);
	t.is((await keyLogin(user, key))?.code, ErrorCodes.AuthenticationFailed, 'a symlinked ~/.config is not followed');
	await runAs(user, '/usr/bin/rm', ['--', config]);
	await runAs(user, '/usr/bin/mv', ['--', join(user.home, 'elsewhere'), config]);
	t.is(await keyLogin(user, key), undefined);

	// A FIFO in place of the file: an immediate refusal, and the daemon goes on serving.
	const file = join(config, 'spyder-remote', 'authorized_keys');
	await rename(file, `${file}.real`);
	await runAs(user, '/usr/bin/mkfifo', ['--', file]);
	const started = Date.now();
	t.is((await keyLogin(user, key))?.code, ErrorCodes.AuthenticationFailed);
	t.true(Date.now() - started < 5000, 'answered at once');
	const other = await server.open();
	await other.loginWithPassword(user.name, user.password);
	t.is((await other.whoami()).uid, user.uid);
	await other.close();
});
