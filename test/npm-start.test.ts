import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { execa } from 'execa';
import { connect } from '@spyder-remote/client';
import { withTestUsers } from './helpers/os-users.js';
import { requireRoot } from './helpers/root.js';

const newUser = withTestUsers(test);
const repository = join(import.meta.dirname, '..');

test('npm start works from a fresh clone and serves its user', async (t) => {
	t.timeout(300_000);
	requireRoot('this test needs root: it runs the clone as a fresh OS user');
	const user = await newUser();
	const directory = await mkdtemp(join(tmpdir(), 'ssd-clone-'));
	const clone = join(directory, 'spyder-remote');
	await execa('chmod', ['711', directory]);
	await execa('git', ['clone', '--quiet', repository, clone]);
	// Dependencies come from root's npm cache (the registry is slow to reach for a fresh account);
	// building and starting happen as the user, through the README's own command.
	await execa('npm', ['ci', '--prefer-offline', '--no-audit', '--no-fund'], { cwd: clone });
	await execa('chown', ['-R', `${user.uid}:${user.gid}`, clone]);
	const port = 20_000 + Math.floor(Math.random() * 20_000);
	const server = execa(
		'setpriv',
		[`--reuid=${user.uid}`, `--regid=${user.gid}`, '--init-groups', '--reset-env', '--', 'npm', 'start', '--', '--port', String(port)],
		{
			cwd: clone,
			detached: true,
			reject: false,
		},
	);
	try {
		const output = await new Promise<string>((resolve, reject) => {
			let text = '';
			server.stdout!.on('data', (chunk: Buffer) => {
				text += chunk.toString();
				if (/connect with: .*\n/.test(text)) resolve(text);
			});
			void server.then((result) => reject(new Error(`npm start exited early: ${result.stderr}`)));
		});
		t.regex(output, new RegExp(`personal mode: serves only ${user.name}`));
		const fingerprint = /certificate fingerprint: (SHA256:\S+)/.exec(output)![1]!;
		t.regex(output, new RegExp(`npx ssd login 127\\.0\\.0\\.1:${port} --user ${user.name} --fingerprint ${fingerprint.replace(/[+/]/g, '\\$&')}`));
		const session = await connect({ host: '127.0.0.1', port, fingerprint, knownHosts: false });
		await session.loginWithPassword(user.name, user.password);
		t.is((await session.whoami()).uid, user.uid);
		await session.close();
	} finally {
		process.kill(-server.pid!, 'SIGTERM');
		await server;
		await rm(directory, { recursive: true, force: true });
	}
});
