/**
 * ssd-conformance, the built binary, against the reference server: every
 * check passes, N/A only where the server does not announce a capability,
 * and the exit status says when something failed.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import test from 'ava';
import { execa } from 'execa';
import { checks, formatReport, specAnchor, specHeadings, type CheckResult, type SpecSection } from '@spyder-remote/conformance';
import { withTestUsers, type TestUser } from './helpers/os-users.js';
import { requireRoot, startTestServer, type TestServer } from './helpers/server.js';

const root = new URL('..', import.meta.url).pathname;
const newUser = withTestUsers(test);
const servers: TestServer[] = [];

test.before((t) => requireRoot(t));
test.after.always(async () => {
	await Promise.all(servers.map((server) => server.stop()));
});

async function serve(overrides: Record<string, unknown> = {}): Promise<TestServer> {
	// The suite breaks framing on purpose; the server's warnings about it would only be noise here.
	const server = await startTestServer({ logLevel: 'error', ...overrides });
	servers.push(server);
	return server;
}

function conformance(server: TestServer, user: TestUser, options: { password?: string; fingerprint?: string; extra?: string[] } = {}) {
	const args = [
		'--host',
		'127.0.0.1',
		'--port',
		String(server.server.port),
		'--user',
		user.name,
		'--password-stdin',
		'--fingerprint',
		options.fingerprint ?? server.server.fingerprint,
	];
	return execa(process.execPath, [join(root, 'spec/conformance/dist/bin/ssd-conformance.js'), ...args, ...(options.extra ?? ['--json'])], {
		input: `${options.password ?? user.password}\n`,
		reject: false,
		timeout: 120_000,
	});
}

const withStatus = (results: readonly CheckResult[], status: CheckResult['status']) =>
	results
		.filter((result) => result.status === status)
		.map((result) => result.id)
		.sort();

test('the reference server passes every check, N/A only where it offers more than the check needs, and nothing is left behind', async (t) => {
	const [server, user] = await Promise.all([serve(), newUser()]);
	const run = await conformance(server, user);
	const report = JSON.parse(run.stdout);
	t.deepEqual(
		report.results.filter((result: CheckResult) => result.status === 'fail').map((result: CheckResult) => `${result.id}: ${result.detail}`),
		[],
	);
	t.is(run.exitCode, 0, run.stderr);
	t.deepEqual(withStatus(report.results, 'n/a'), ['auth.method-unavailable']);
	t.is(report.results.length, checks.length);
	t.like(report.server, { fingerprint: server.server.fingerprint, serverInfo: { name: 'ssd-server' }, protocolVersion: '0.1.0' });

	const text = formatReport(report);
	t.regex(text, /^PASS {2}§2\.2 +a header without Content-Length closes the connection with no response$/m);
	t.regex(text, new RegExp(`^${checks.length} checks: ${checks.length - 1} passed, 0 failed, 1 not applicable$`, 'm'));

	const session = await server.open();
	await session.loginWithPassword(user.name, user.password);
	t.deepEqual(await session.listKernels(), [], 'the kernel it started is gone');
	t.false(
		(await session.listEnvironments({ refresh: true })).some((environment) => environment.name.startsWith('ssdc-')),
		'the venvs it made are gone',
	);
	await session.close();
});

test('a check whose capability the server does not announce is N/A, not PASS', async (t) => {
	const [server, user] = await Promise.all([serve({ auth: { methods: ['password'] }, environments: { create: [] } }), newUser()]);
	const run = await conformance(server, user);
	t.is(run.exitCode, 0, run.stderr);
	const { results } = JSON.parse(run.stdout);
	t.deepEqual(withStatus(results, 'n/a'), [
		'auth.bad-signature',
		'auth.challenge',
		'environments.cancel',
		'environments.create-progress',
		'environments.did-change',
		'environments.remove',
	]);
	t.true(withStatus(results, 'pass').includes('auth.method-unavailable'));
	t.regex(results.find((result: CheckResult) => result.id === 'environments.create-progress').detail, /create does not include venv/);
});

test('a failed login fails the checks that need it, and the exit status is 1', async (t) => {
	const [server, user] = await Promise.all([serve(), newUser()]);
	const run = await conformance(server, user, { password: `${user.password}-not` });
	t.is(run.exitCode, 1);
	const { results } = JSON.parse(run.stdout);
	const failed = withStatus(results, 'fail');
	t.true(failed.includes('auth.password'));
	t.true(failed.includes('kernels.start'));
	t.regex(results.find((result: CheckResult) => result.id === 'kernels.start').detail, /not run: the password login failed/);
	t.true(withStatus(results, 'pass').includes('framing.header-flood'), 'what needs no login is still checked');
});

test('nothing is sent to a server whose certificate is not the --fingerprint, and usage errors exit 2', async (t) => {
	const [server, user] = await Promise.all([serve(), newUser()]);
	const wrong = `SHA256:${'A'.repeat(43)}`;
	const mismatch = await conformance(server, user, { fingerprint: wrong });
	t.is(mismatch.exitCode, 2);
	t.regex(mismatch.stderr, /presented SHA256:.*not the --fingerprint .*nothing was sent/);
	t.is(mismatch.stdout, '');
	const bin = join(root, 'spec/conformance/dist/bin/ssd-conformance.js');
	const withoutStdin = await execa(process.execPath, [bin, '--host', '127.0.0.1', '--user', user.name], { reject: false });
	t.is(withoutStdin.exitCode, 2);
	t.regex(withoutStdin.stderr, /--password-stdin is required/);
	const help = await execa(process.execPath, [bin, '--help']);
	t.regex(help.stdout, /^Usage: ssd-conformance --host HOST/);
});

test('every section a check cites is a heading of spec/README.md, and its anchor is GitHub’s', async (t) => {
	const spec = await readFile(join(root, 'spec/README.md'), 'utf8');
	const headings = new Set(
		spec
			.split('\n')
			.filter((line) => /^#{2,4} /.test(line))
			.map((line) => line.replace(/^#+ /, '')),
	);
	for (const heading of Object.values(specHeadings)) t.true(headings.has(heading), `spec/README.md has no heading "${heading}"`);
	t.is(specAnchor('6.11.10'), '#61110-environmentcreate');
	t.is(specAnchor('4'), '#4-capabilities-and-version-negotiation');
	for (const check of checks) t.truthy(specHeadings[check.section as SpecSection], `${check.id} cites an unknown section`);
});
