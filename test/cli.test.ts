import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { execa } from 'execa';
import { ConfigError, resolveConfig } from '@spyder-remote/server';
import { withTestUsers, type TestUser } from './helpers/os-users.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { requireRoot } from './helpers/root.js';

const serverBin = 'server/dist/bin/ssd-server.js';
const clientBin = 'client-lib/dist/bin/ssd.js';
const newUser = withTestUsers(test);
let server: TestServer;
let user: TestUser;
let clientConfigDir: string;

test.before(async () => {
	requireRoot('CLI tests need root: they create OS users');
	user = await newUser();
	server = await startTestServer();
	clientConfigDir = await mkdtemp(join(tmpdir(), 'ssd-client-'));
});
test.after.always(async () => server?.stop());

const ssd = (args: string[], input?: string) =>
	execa(process.execPath, [clientBin, ...args], { reject: false, input: input ?? '', env: { SPYDER_REMOTE_CONFIG_DIR: clientConfigDir } });
const target = () => `127.0.0.1:${server.server.port}`;

test('config errors name the offending key', (t) => {
	t.throws(() => resolveConfig({ listen: { port: 'eighty' } }), { instanceOf: ConfigError, message: /listen\.port/ });
	t.throws(() => resolveConfig({ auth: { maxAuthTries: 0 } }), { instanceOf: ConfigError, message: /auth\.maxAuthTries/ });
	t.throws(() => resolveConfig({ listen: { prot: 1 } }), { instanceOf: ConfigError, message: /listen\.prot/ });
	t.is(resolveConfig({}).limits.maxMessageBytes, 16 * 1024 * 1024, 'the documented default');
});

test('ssd-server --help, --version, and a bad config exit as documented', async (t) => {
	const help = await execa(process.execPath, [serverBin, '--help']);
	t.regex(help.stdout, /Usage: ssd-server/);
	const version = await execa(process.execPath, [serverBin, '--version']);
	t.regex(version.stdout, /^\d+\.\d+\.\d+$/);
	const directory = await mkdtemp(join(tmpdir(), 'ssd-config-'));
	await writeFile(join(directory, 'bad.json'), JSON.stringify({ auth: { methods: ['telepathy'] } }));
	const bad = await execa(process.execPath, [serverBin, 'start', '--config', join(directory, 'bad.json')], { reject: false });
	t.is(bad.exitCode, 2);
	t.regex(bad.stderr, /auth\.methods/);
	const usage = await execa(process.execPath, [serverBin, 'frobnicate'], { reject: false });
	t.is(usage.exitCode, 2);
});

test('ssd-server fingerprint prints the fingerprint the server presents', async (t) => {
	const config = join(server.directory, 'fingerprint.json');
	await writeFile(config, JSON.stringify({ stateDir: join(server.directory, 'state') }));
	const result = await execa(process.execPath, [serverBin, 'fingerprint', '--config', config]);
	t.is(result.stdout, server.server.fingerprint);
});

test.serial('ssd login --save-key, then whoami logs in with the key alone', async (t) => {
	const unknown = await ssd(['whoami', target(), '--user', user.name, '--password-stdin'], `${user.password}\n`);
	t.is(unknown.exitCode, 1);
	// The library's sentence, then ssd's own flags for what to do about it.
	t.regex(unknown.stderr, /not a known host.*Then pass --fingerprint SHA256:\S+ \(or --accept-new\)\./s);
	const changed = await ssd(['whoami', target(), '--user', user.name, '--password-stdin', '--fingerprint', `SHA256:${'A'.repeat(43)}`], `${user.password}\n`);
	t.is(changed.exitCode, 1);
	t.regex(changed.stderr, /has changed: the fingerprint given pins SHA256:A+, .* Then pass it with --fingerprint\./s);

	const login = await ssd(
		['login', target(), '--user', user.name, '--password-stdin', '--save-key', '--fingerprint', server.server.fingerprint],
		`${user.password}\n`,
	);
	t.is(login.exitCode, 0, login.stderr);
	t.regex(login.stdout, new RegExp(`Logged in to .* as ${user.name}\\. Key SHA256:\\S+ registered`));

	const who = await ssd(['whoami', target(), '--user', user.name, '--json']);
	t.is(who.exitCode, 0, who.stderr);
	const parsed = JSON.parse(who.stdout);
	t.is(parsed.uid, user.uid);
	t.is(parsed.gid, user.gid);
	t.true(parsed.groups.some((group: { name?: string }) => group.name === user.supplementaryGroup));

	const human = await ssd(['whoami', target(), '--user', user.name]);
	t.regex(human.stdout, new RegExp(`^uid\\s+${user.uid}$`, 'm'));
});

test.serial('ssd exit codes: 1 for a refused login, 2 for bad usage', async (t) => {
	const refused = await ssd(['whoami', target(), '--user', user.name, '--password-stdin', '--fingerprint', server.server.fingerprint], 'wrong\n');
	t.is(refused.exitCode, 1);
	t.regex(refused.stderr, /authentication failed \(AuthenticationFailed\)/);
	t.is((await ssd(['whoami'])).exitCode, 2);
	t.is((await ssd(['whoami', 'host:99999', '--user', 'x'])).exitCode, 2);
	t.is((await ssd(['login', target(), '--bogus'])).exitCode, 2);
});

test.serial('ssd envs and ssd env create/packages/remove, with plain progress lines off a terminal', async (t) => {
	const login = ['--user', user.name, '--password-stdin', '--fingerprint', server.server.fingerprint];
	const input = `${user.password}\n`;
	const listed = await ssd(['envs', target(), ...login, '--spyder-kernels', '>=2.4.0,<2.5.0'], input);
	t.is(listed.exitCode, 0, listed.stderr);
	t.regex(listed.stdout, /^NAME\s+KIND\s+PYTHON\s+SPYDER-KERNELS\s+IPYKERNEL\s+USABLE\s+PREFIX$/m);
	t.regex(listed.stdout, /^\/usr\/bin\/python3\s+system\s+3\.11\.\d+\s+2\.4\.\d+\s+yes\s+yes\s+\/usr$/m);

	const created = await ssd(['env', 'create', target(), 'clienv', ...login], input);
	t.is(created.exitCode, 0, created.stderr);
	t.regex(created.stderr, /^Creating venv clienv\n/m, 'progress as plain lines');
	t.regex(created.stdout, /Created clienv at .*\.virtualenvs\/clienv/);
	const packages = await ssd(['env', 'packages', target(), 'clienv', ...login, '--json'], input);
	t.true(Array.isArray(JSON.parse(packages.stdout)));
	const removed = await ssd(['env', 'remove', target(), 'clienv', ...login], input);
	t.is(removed.exitCode, 0, removed.stderr);
	const bad = await ssd(['env', 'create', target(), '../evil', ...login], input);
	t.is(bad.exitCode, 1);
	t.regex(bad.stderr, /InvalidParams/);
});

test.serial('a NAME from the hosts file works wherever HOST[:PORT] does', async (t) => {
	await writeFile(join(clientConfigDir, 'hosts'), `# lab machines\nlabserver 127.0.0.1:${server.server.port}\n`);
	const who = await ssd(
		['whoami', 'labserver', '--user', user.name, '--password-stdin', '--fingerprint', server.server.fingerprint, '--json'],
		`${user.password}\n`,
	);
	t.is(who.exitCode, 0, who.stderr);
	t.is(JSON.parse(who.stdout).uid, user.uid);
	const listed = await ssd(['discover', '--timeout', '200']);
	t.regex(listed.stdout, new RegExp(`labserver\\s+127\\.0\\.0\\.1:${server.server.port}`));
});
