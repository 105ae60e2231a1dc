import { lstat, readdir, readFile, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import test from 'ava';
import { ErrorCodes, RemoteError, type RemoteSession } from '@spyder-remote/client';
import type { Environment, EnvironmentDidChangeParams } from '@spyder-remote/protocol';
import { runAs, writeAs } from './helpers/as-user.js';
import { withTestUsers, type TestUser } from './helpers/os-users.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { requireRoot } from './helpers/root.js';

const newUser = withTestUsers(test);
let server: TestServer;
let alice: TestUser;
let bob: TestUser;
const spyder54 = '>=2.4.0,<2.5.0';
const spyder61 = '>=3.1.0,<3.2.0';

/** A conda-layout prefix: conda-meta records, and a real interpreter from a venv over Debian's python. */
async function makeCondaPrefix(user: TestUser, prefix: string, spyderKernels: string | undefined): Promise<void> {
	await runAs(user, '/usr/bin/python3', ['-m', 'venv', '--system-site-packages', '--without-pip', prefix]);
	await writeAs(user, join(prefix, 'conda-meta', 'history'), '==> 2026-01-01 00:00:00 <==\n');
	await writeAs(user, join(prefix, 'conda-meta', 'python-3.11.2-h955ad1f_0.json'), JSON.stringify({ name: 'python', version: '3.11.2' }));
	if (spyderKernels)
		await writeAs(
			user,
			join(prefix, 'conda-meta', `spyder-kernels-${spyderKernels}-py311_0.json`),
			JSON.stringify({ name: 'spyder-kernels', version: spyderKernels }),
		);
	// A conda prefix has no pyvenv.cfg; the venv was only a way to get a working bin/python.
	await runAs(user, '/usr/bin/rm', ['-f', '--', join(prefix, 'pyvenv.cfg')]);
}

/** A wheel built offline from a tiny local project, so pip needs no index. */
async function buildWheel(user: TestUser, name: string): Promise<string> {
	const project = join(user.home, 'src', name);
	await writeAs(
		user,
		join(project, 'pyproject.toml'),
		`[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n[project]\nname = "${name}"\nversion = "1.2.3"\n`,
	);
	await writeAs(user, join(project, name, '__init__.py'), 'VALUE = 42\n');
	await runAs(user, '/usr/bin/python3', ['-m', 'pip', 'wheel', '--no-build-isolation', '--no-deps', '--no-index', '-w', join(user.home, 'wheels'), project]);
	const wheels = await readdir(join(user.home, 'wheels'));
	return join(user.home, 'wheels', wheels.find((file) => file.startsWith(name))!);
}

/** A project whose in-tree build backend takes a minute: something to cancel halfway. */
async function makeSlowProject(user: TestUser): Promise<string> {
	const project = join(user.home, 'src', 'slowpkg');
	await writeAs(user, join(project, 'pyproject.toml'), '[build-system]\nrequires = []\nbuild-backend = "slow_backend"\nbackend-path = ["."]\n');
	await writeAs(
		user,
		join(project, 'slow_backend.py'),
		'import time\ndef get_requires_for_build_wheel(config_settings=None):\n    time.sleep(60)\n    return []\ndef build_wheel(*args, **kwargs):\n    raise SystemExit(1)\n',
	);
	return project;
}

test.before(async () => {
	requireRoot('environment tests need root: they create OS users');
	[alice, bob] = await Promise.all([newUser(), newUser()]);
	const miniforge = join(alice.home, 'miniforge3');
	await makeCondaPrefix(alice, join(miniforge, 'envs', 'sk24'), '2.4.2');
	await makeCondaPrefix(alice, join(miniforge, 'envs', 'sk23'), '2.3.0');
	await writeAs(alice, join(miniforge, 'conda-meta', 'history'), '');
	await writeAs(alice, join(alice.home, '.conda', 'environments.txt'), `${join(miniforge, 'envs', 'sk24')}\n${join(alice.home, 'deleted-long-ago')}\n`);
	await runAs(alice, '/usr/bin/python3', ['-m', 'venv', '--without-pip', join(alice.home, '.venvs', 'plain')]);
	await runAs(alice, '/usr/bin/python3', ['-m', 'venv', '--without-pip', join(alice.home, '.venvs', 'broken')]);
	await runAs(alice, '/usr/bin/rm', ['-f', join(alice.home, '.venvs', 'broken', 'bin', 'python')]);
	await runAs(alice, '/usr/bin/ln', ['-s', '/nonexistent/python3', join(alice.home, '.venvs', 'broken', 'bin', 'python')]);
	await runAs(bob, '/usr/bin/python3', ['-m', 'venv', '--without-pip', join(bob.home, '.venvs', 'bobs-secret')]);
	server = await startTestServer({ auth: { maxStartups: '100' }, environments: { extraPaths: ['/usr/lib/ssd-test-none'] } });
});
test.after.always(async () => server?.stop());

async function login(user: TestUser): Promise<RemoteSession> {
	const session = await server.open();
	await session.loginWithPassword(user.name, user.password);
	return session;
}

const byName = (environments: Environment[], name: string) => environments.find((environment) => environment.name === name);

test('lists conda prefixes, venvs and the system python, with spyder-kernels compatibility', async (t) => {
	const session = await login(alice);
	const environments = await session.listEnvironments({ spyderKernelsRange: spyder54 });
	const sk24 = byName(environments, 'sk24')!;
	t.is(sk24.kind, 'conda');
	t.is(sk24.spyderKernels, '2.4.2');
	t.is(sk24.pythonVersion, '3.11.2');
	t.deepEqual(sk24.compatible, { ok: true });
	t.true(sk24.manageable);
	t.deepEqual(byName(environments, 'sk23')!.compatible, { ok: false, reason: 'spyder-kernels 2.3.0 found, needs >=2.4.0,<2.5.0' });
	t.is(byName(environments, 'plain')!.kind, 'venv');
	t.is(byName(environments, 'plain')!.compatible?.reason, 'spyder-kernels is not installed');
	t.regex(byName(environments, 'broken')!.broken ?? '', /dangling/);
	const system = environments.find((environment) => environment.prefix === '/usr')!;
	t.is(system.kind, 'system');
	t.regex(system.spyderKernels ?? '', /^2\.4\./, "Debian's python3-spyder-kernels");
	t.true(system.ipykernel);
	t.false(system.manageable, 'system interpreters are never administered');
	t.false(
		environments.some((environment) => environment.prefix.includes('deleted-long-ago')),
		'stale environments.txt lines are skipped',
	);
	t.false(
		environments.some((environment) => environment.prefix.startsWith(bob.home)),
		"another user's environments are not listed",
	);
	const missingExtra = environments.find((environment) => environment.prefix === '/usr/lib/ssd-test-none');
	t.regex(missingExtra?.broken ?? '', /does not exist/, 'a configured extra path that is missing is listed as broken');

	const newer = await session.listEnvironments({ spyderKernelsRange: spyder61 });
	t.deepEqual(byName(newer, 'sk24')!.compatible, { ok: false, reason: 'spyder-kernels 2.4.2 found, needs >=3.1.0,<3.2.0' });
	await session.close();
});

test('environment/didChange reaches every connection of the user within a second', async (t) => {
	const [first, second] = [await login(alice), await login(alice)];
	await first.listEnvironments();
	const seen = (session: RemoteSession, predicate: (change: EnvironmentDidChangeParams) => boolean) =>
		new Promise<number>((resolve) => {
			const started = Date.now();
			const stop = session.onEnvironmentsChanged((change) => {
				if (predicate(change)) {
					stop();
					resolve(Date.now() - started);
				}
			});
		});
	const prefix = join(alice.home, 'miniforge3', 'envs', 'fresh');
	const added = Promise.all([first, second].map((session) => seen(session, (change) => change.added.some((environment) => environment.prefix === prefix))));
	await makeCondaPrefix(alice, prefix, '2.4.2');
	const delays = await added;
	t.log(`added seen after ${delays.join(', ')} ms (includes making the prefix)`);
	const id = (await first.listEnvironments()).find((environment) => environment.prefix === prefix)!.id;
	const removedAt = Date.now();
	const removed = seen(first, (change) => change.removed.includes(id));
	await runAs(alice, '/usr/bin/rm', ['-rf', '--', prefix]);
	await removed;
	t.true(Date.now() - removedAt < 1000, `removal noticed after ${Date.now() - removedAt} ms`);

	const changed = seen(second, (change) => change.changed.some((environment) => environment.name === 'sk23' && environment.spyderKernels === '2.4.1'));
	const changedAt = Date.now();
	const meta = join(alice.home, 'miniforge3', 'envs', 'sk23', 'conda-meta');
	await runAs(alice, '/usr/bin/mv', ['--', join(meta, 'spyder-kernels-2.3.0-py311_0.json'), join(meta, 'spyder-kernels-2.4.1-py311_0.json')]);
	await changed;
	t.true(Date.now() - changedAt < 1000, `a spyder-kernels change was noticed after ${Date.now() - changedAt} ms`);

	const sitePackages = join(alice.home, 'miniforge3', 'envs', 'sk23', 'lib', 'python3.11', 'site-packages');
	const anyPackage = seen(first, (change) => change.changed.some((environment) => environment.name === 'sk23'));
	const installedAt = Date.now();
	await runAs(alice, '/usr/bin/mkdir', ['-p', '--', join(sitePackages, 'numpy-1.26.4.dist-info')]);
	await anyPackage;
	t.true(Date.now() - installedAt < 1000, `any package change is noticed (${Date.now() - installedAt} ms)`);
	await first.close();
	await second.close();
});

test('create a venv with progress, install a local wheel, uninstall it, remove the venv', async (t) => {
	const session = await login(alice);
	const progress: string[] = [];
	const onProgress = (value: { kind: string; title?: string; message?: string }) => progress.push(`${value.kind}:${value.title ?? value.message ?? ''}`);
	const created = await session.createEnvironment({ name: 'work', kind: 'venv', systemSitePackages: true }, { onProgress });
	t.is(created.prefix, join(alice.home, '.virtualenvs', 'work'));
	t.is(created.kind, 'venv');
	t.is(created.spyderKernels?.slice(0, 3), '2.4', "system site packages bring Debian's spyder-kernels");
	t.is((await lstat(created.prefix)).uid, alice.uid, 'made as the user');
	t.true(progress[0]!.startsWith('begin:Creating venv work'));
	t.true(progress.at(-1)!.startsWith('end:'));

	const wheel = await buildWheel(alice, 'tinypkg');
	progress.length = 0;
	await session.installPackages({ id: created.id, paths: [wheel] }, { onProgress });
	t.true(
		progress.some((line) => /Successfully installed tinypkg-1\.2\.3/.test(line)),
		progress.join('\n'),
	);
	const packages = await session.listPackages(created.id);
	t.deepEqual(
		packages.find((item) => item.name === 'tinypkg'),
		{ name: 'tinypkg', version: '1.2.3', installer: 'pip' },
	);
	const check = await runAs(alice, join(created.prefix, 'bin', 'python'), ['-c', 'import tinypkg; print(tinypkg.VALUE)']);
	t.is(check.stdout, '42');

	await session.uninstallPackages({ id: created.id, packages: ['tinypkg'] });
	t.false((await session.listPackages(created.id)).some((item) => item.name === 'tinypkg'));

	await session.removeEnvironment(created.id);
	await t.throwsAsync(lstat(created.prefix));
	t.false((await session.listEnvironments()).some((environment) => environment.id === created.id));
	await session.close();
});

test('cancelling an install halfway kills the build and leaves the environment working', async (t) => {
	const session = await login(alice);
	const environment = await session.createEnvironment({ name: 'cancel-install', kind: 'venv' });
	const project = await makeSlowProject(alice);
	const controller = new AbortController();
	const begun = Date.now();
	const install = session.installPackages(
		{ id: environment.id, paths: [project] },
		{
			signal: controller.signal,
			onProgress: (value) => {
				if (value.kind === 'report' && /build dependencies|Getting requirements|Processing/.test(value.message ?? '')) controller.abort();
			},
		},
	);
	const error = await t.throwsAsync(install, { instanceOf: RemoteError });
	t.is(error?.code, ErrorCodes.RequestCancelled);
	t.true(Date.now() - begun < 30_000, 'cancelled long before the 60 s build would end');
	const leftovers = await runAs(alice, '/usr/bin/pgrep', ['-u', String(alice.uid), '-f', 'slow_backend|pip install'], { reject: false });
	t.is(leftovers.stdout, '', 'no pip or backend process survives');
	t.is((await runAs(alice, join(environment.prefix, 'bin', 'python'), ['-c', 'print(1)'])).stdout, '1');
	await session.removeEnvironment(environment.id);
	await session.close();
});

test('cancelling a create halfway leaves no prefix', async (t) => {
	const session = await login(alice);
	const controller = new AbortController();
	const creating = session.createEnvironment(
		{ name: 'half', kind: 'venv' },
		{ signal: controller.signal, onProgress: (value) => value.kind === 'begin' && setTimeout(() => controller.abort(), 300) },
	);
	const error = await t.throwsAsync(creating, { instanceOf: RemoteError });
	t.is(error?.code, ErrorCodes.RequestCancelled);
	await t.throwsAsync(lstat(join(alice.home, '.virtualenvs', 'half')));
	await session.close();
});

test('two operations on one environment run one after the other', async (t) => {
	const [first, second] = [await login(alice), await login(alice)];
	const environment = await first.createEnvironment({ name: 'serial', kind: 'venv' });
	const wheels = await Promise.all([buildWheel(alice, 'alpha'), buildWheel(alice, 'beta')]);
	const spans: [number, number][] = [];
	const run = async (session: RemoteSession, wheel: string) => {
		let began = 0;
		await session.installPackages(
			{ id: environment.id, paths: [wheel] },
			{ onProgress: (value) => value.kind === 'report' && began === 0 && (began = Date.now()) },
		);
		spans.push([began, Date.now()]);
	};
	await Promise.all([run(first, wheels[0]!), run(second, wheels[1]!)]);
	spans.sort((a, b) => a[0] - b[0]);
	t.true(spans[1]![0] >= spans[0]![1] - 150, `second began ${spans[1]![0] - spans[0]![1]} ms relative to the first's end`);
	const names = (await first.listPackages(environment.id)).map((item) => item.name);
	t.true(names.includes('alpha') && names.includes('beta'));
	await first.removeEnvironment(environment.id);
	await first.close();
	await second.close();
});

test('hostile names, specs and paths get a clear error and change nothing', async (t) => {
	const session = await login(alice);
	const sk24 = byName(await session.listEnvironments(), 'sk24')!;
	for (const name of ['../escape', 'a/b', '-rf', '.hidden', 'x;rm -rf ~', 'a\0b', '', 'n'.repeat(65), '$(id)']) {
		const error = await t.throwsAsync(session.createEnvironment({ name, kind: 'venv' }), { instanceOf: RemoteError }, name);
		t.is(error?.code, ErrorCodes.InvalidParams, name);
	}
	for (const spec of [
		'--index-url=http://198.18.0.9/',
		'-e .',
		'pkg; rm -rf /',
		'https://example.invalid/x.whl',
		'../x',
		'a b',
		'x-1.0-py3-none-any.whl',
		'x.tar.gz',
	]) {
		const error = await t.throwsAsync(session.installPackages({ id: sk24.id, packages: [spec] }), { instanceOf: RemoteError }, spec);
		t.is(error?.code, ErrorCodes.InvalidParams, spec);
	}
	const outside = await t.throwsAsync(session.installPackages({ id: sk24.id, paths: ['/etc'] }), { instanceOf: RemoteError });
	t.is(outside?.code, ErrorCodes.PathNotAllowed);
	await symlink('/etc', join(alice.home, 'sneaky'));
	const viaLink = await t.throwsAsync(session.installPackages({ id: sk24.id, paths: [join(alice.home, 'sneaky')] }), { instanceOf: RemoteError });
	t.is(viaLink?.code, ErrorCodes.PathNotAllowed, 'symlinks are followed before the check');
	const system = (await session.listEnvironments()).find((environment) => environment.kind === 'system')!;
	const denied = await t.throwsAsync(session.removeEnvironment(system.id), { instanceOf: RemoteError });
	t.is(denied?.code, ErrorCodes.PermissionDenied);
	for (const range of ['~=2.4', '>=2.4.*', 'latest', '>=2.4;rm']) {
		const error = await t.throwsAsync(session.listEnvironments({ spyderKernelsRange: range }), { instanceOf: RemoteError }, range);
		t.is(error?.code, ErrorCodes.InvalidParams, range);
	}
	t.true((await session.listEnvironments()).length > 0, 'the connection still works after bad ranges');
	const unknown = await t.throwsAsync(session.removeEnvironment('0123456789abcdef'), { instanceOf: RemoteError });
	t.is(unknown?.code, ErrorCodes.EnvironmentNotFound);
	const made = await readdir(join(alice.home, '.virtualenvs')).catch(() => []);
	t.false(
		made.some((entry) => /escape|rf|hidden|rm|id\)/.test(entry)),
		`nothing hostile was made: ${made.join(', ')}`,
	);
	await t.throwsAsync(lstat(join(alice.home, 'escape')));
	await session.close();
});

test("a user cannot act on another user's environment, even knowing its id", async (t) => {
	const bobSession = await login(bob);
	const secret = byName(await bobSession.listEnvironments(), 'bobs-secret')!;
	await bobSession.close();
	const session = await login(alice);
	for (const attempt of [session.listPackages(secret.id), session.removeEnvironment(secret.id), session.installPackages({ id: secret.id, packages: ['x'] })]) {
		const error = await t.throwsAsync(attempt, { instanceOf: RemoteError });
		t.is(error?.code, ErrorCodes.EnvironmentNotFound);
	}
	t.truthy(await lstat(secret.prefix));
	await session.close();
});

test('conda administration, checked against recorded conda --json output (not a real conda)', async (t) => {
	// No conda package exists for Debian here. This stand-in replays the documented --json shapes
	// of conda 24 for create/install/remove and records its arguments; it does not solve anything.
	const fakeConda = join(alice.home, 'miniforge3', 'bin', 'conda');
	await writeAs(
		alice,
		fakeConda,
		[
			'#!/usr/bin/python3',
			'import json, os, sys',
			'args = sys.argv[1:]',
			'open(os.path.expanduser("~/conda-calls.log"), "a").write(json.dumps(args) + "\\n")',
			'prefix = args[args.index("--prefix") + 1]',
			'specs = args[args.index("--") + 1:] if "--" in args else []',
			'if args[0] == "create":',
			'    os.makedirs(os.path.join(prefix, "conda-meta"))',
			'    open(os.path.join(prefix, "conda-meta", "history"), "w").close()',
			'    os.makedirs(os.path.join(prefix, "bin")); os.symlink("/usr/bin/python3", os.path.join(prefix, "bin", "python"))',
			'    for spec in specs:',
			'        name, _, version = spec.partition("=")',
			'        open(os.path.join(prefix, "conda-meta", f"{name}-{version or \'1.0\'}-0.json"), "w").write("{}")',
			'    print(json.dumps({"actions": {"PREFIX": prefix, "LINK": []}, "prefix": prefix, "success": True}))',
			'elif args[0] == "install" and "nosuchpkg" in specs:',
			'    print(json.dumps({"caused_by": "None", "channel_urls": [], "error": "PackagesNotFoundError: nosuchpkg", "exception_name": "PackagesNotFoundError", "message": "The following packages are not available from current channels:\\n\\n  - nosuchpkg", "packages": ["nosuchpkg"]}))',
			'    sys.exit(1)',
			'else:',
			'    print(json.dumps({"actions": {"PREFIX": prefix}, "success": True}))',
		].join('\n') + '\n',
	);
	await runAs(alice, '/usr/bin/chmod', ['755', fakeConda]);
	const session = await login(alice);
	const created = await session.createEnvironment({ name: 'condaenv', kind: 'conda', python: '3.11', packages: ['spyder-kernels=2.4.2'] });
	t.is(created.kind, 'conda');
	t.is(created.prefix, join(alice.home, '.conda', 'envs', 'condaenv'));
	t.is(created.spyderKernels, '2.4.2');
	const failure = await t.throwsAsync(session.installPackages({ id: created.id, packages: ['nosuchpkg'] }), { instanceOf: RemoteError });
	t.is(failure?.code, ErrorCodes.ToolFailed);
	t.regex(failure!.message, /PackagesNotFoundError/);
	await session.removeEnvironment(created.id);
	const calls = (await readFile(join(alice.home, 'conda-calls.log'), 'utf8'))
		.trim()
		.split('\n')
		.map((line) => JSON.parse(line) as string[]);
	t.deepEqual(calls[0], ['create', '--yes', '--json', '--prefix', created.prefix, '--', 'python=3.11', 'spyder-kernels=2.4.2']);
	t.deepEqual(calls[1], ['install', '--yes', '--json', '--prefix', created.prefix, '--', 'nosuchpkg']);
	t.deepEqual(calls[2], ['remove', '--yes', '--json', '--prefix', created.prefix, '--all']);
	await t.throwsAsync(lstat(created.prefix));
	await session.close();
});
