import { join } from 'node:path';
import test from 'ava';
import { runAs, writeAs } from './helpers/as-user.js';
import { withTestUsers } from './helpers/os-users.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { requireRoot } from './helpers/root.js';

const newUser = withTestUsers(test);
let server: TestServer;

test.before(async () => {
	requireRoot('this attack needs root: it creates an OS user and runs the daemon in system mode');
	server = await startTestServer();
});
test.after.always(async () => server?.stop());

/** Long enough for a loaded machine to list a few venvs, far short of forever. */
const answerWithinMs = 15_000;

test("FIFOs where discovery reads the user's files do not hang the session host", async (t) => {
	const user = await newUser();
	const venvs = join(user.home, '.venvs');
	// Made as the user with the system interpreter: real venvs, one of them with FIFOs where its files should be.
	for (const name of ['good', 'fifo-cfg', 'fifo-metadata']) await runAs(user, '/usr/bin/python3', ['-m', 'venv', '--without-pip', join(venvs, name)]);
	const { stdout: xy } = await runAs(user, '/usr/bin/python3', ['-c', 'import sys; print("%d.%d" % sys.version_info[:2])']);
	await writeAs(user, join(user.home, '.conda', 'placeholder'), '');
	const metadata = join(venvs, 'fifo-metadata', 'lib', `python${xy}`, 'site-packages', 'spyder_kernels.dist-info', 'METADATA');
	await writeAs(user, metadata, '');
	for (const path of [join(user.home, '.conda', 'environments.txt'), join(user.home, '.condarc'), join(venvs, 'fifo-cfg', 'pyvenv.cfg'), metadata]) {
		await runAs(user, '/usr/bin/rm', ['-f', '--', path]);
		await runAs(user, '/usr/bin/mkfifo', ['--', path]);
	}

	const session = await server.open();
	await session.loginWithPassword(user.name, user.password);
	const started = Date.now();
	let timer: NodeJS.Timeout | undefined;
	const environments = await Promise.race([
		session.listEnvironments(),
		new Promise<never>((_, reject) => {
			timer = setTimeout(() => reject(new Error(`environment/list did not answer within ${answerWithinMs} ms`)), answerWithinMs);
		}),
	]).finally(() => clearTimeout(timer));
	t.log(`environment/list answered in ${Date.now() - started} ms`);

	const byName = new Map(environments.map((environment) => [environment.name, environment]));
	t.truthy(byName.get('/usr/bin/python3'), 'the system interpreter is listed');
	t.is(byName.get('good')?.broken, undefined);
	t.regex(byName.get('fifo-cfg')?.broken ?? '', /pyvenv\.cfg unreadable \(not a regular file\)/);
	t.is(byName.get('fifo-metadata')?.broken, undefined);
	t.is(byName.get('fifo-metadata')?.spyderKernels, undefined, 'a version that cannot be read counts as absent');
	// And the host still serves.
	t.is((await session.whoami()).uid, user.uid);
	session.destroy();
});
