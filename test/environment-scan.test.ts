import { createHash } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readdir, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import test from 'ava';
import { execa } from 'execa';
import { scanEnvironments, type ScannedEnvironment, type ScanOptions } from '../server/src/session-host/environments/scan.js';
import {
	normalizePackageName,
	parseCondaRecordFilename,
	parseCondarcEnvsDirs,
	parseDistributionDirName,
	parsePyvenvCfg,
} from '../server/src/session-host/environments/metadata.js';
import { parseVersionRange } from '../server/src/session-host/environments/version-range.js';

// Always Debian's interpreter: the python3 on PATH may be a pyenv build without Debian's dist-packages.
const SYSTEM_PYTHON = '/usr/bin/python3';
const DEBIAN_DIST_PACKAGES = '/usr/lib/python3/dist-packages';
const MATCHING_RANGE = '>=2.4.0,<2.5.0';
const FUTURE_RANGE = '>=3.1.0,<3.2.0';

const temporaries: string[] = [];
let home: string;
/** X.Y of Debian's interpreter, which names the lib/pythonX.Y directories of the venvs made from it. */
let systemVersion: string;
let listed: ScannedEnvironment[];

async function temporaryDirectory(prefix: string): Promise<string> {
	const directory = await mkdtemp(join(tmpdir(), prefix));
	temporaries.push(directory);
	return directory;
}

async function makeVenv(prefix: string, ...flags: string[]): Promise<void> {
	await execa(SYSTEM_PYTHON, ['-m', 'venv', '--without-pip', ...flags, prefix]);
}

/** Records are looked up by file name only, so empty JSON objects do. */
async function makeCondaMeta(prefix: string, records: readonly string[]): Promise<void> {
	await mkdir(join(prefix, 'conda-meta'), { recursive: true });
	await writeFile(join(prefix, 'conda-meta', 'history'), '==> 2024-01-01 00:00:00 <==\n');
	await Promise.all(records.map((record) => writeFile(join(prefix, 'conda-meta', record), '{}')));
}

async function makeCondaEnvironment(prefix: string, records: readonly string[]): Promise<void> {
	await makeVenv(prefix, '--system-site-packages');
	await makeCondaMeta(prefix, records);
}

async function makeDistribution(siteDirectory: string, directoryName: string, metadata = ''): Promise<void> {
	await mkdir(join(siteDirectory, directoryName), { recursive: true });
	await writeFile(join(siteDirectory, directoryName, 'METADATA'), metadata);
}

function byPrefix(prefix: string, environments = listed): ScannedEnvironment {
	const found = environments.find((environment) => environment.prefix === prefix);
	if (!found) throw new Error(`${prefix} was not listed; listed: ${environments.map((environment) => environment.prefix).join(', ')}`);
	return found;
}

const python311 = 'python-3.11.4-h955ad1f_0.json';
const kernels242 = 'spyder-kernels-2.4.2-py311_0.json';
const ipykernel = 'ipykernel-6.25.0-pyh2140261_0.json';

test.before(async () => {
	const debian = await readdir(DEBIAN_DIST_PACKAGES).catch(() => []);
	if (!debian.some((entry) => entry.startsWith('spyder_kernels-2.4.')) || !debian.some((entry) => entry.startsWith('ipykernel-'))) {
		throw new Error('these tests need Debian packages: apt-get install -y python3-spyder-kernels python3-ipykernel');
	}
	systemVersion = /python(\d+\.\d+)$/.exec(await realpath(SYSTEM_PYTHON))![1]!;
	home = await temporaryDirectory('ssd-envs-');
	const h = (path: string) => join(home, path);

	await makeCondaEnvironment(h('miniforge3'), [python311, kernels242, ipykernel, 'ca-certificates-2024.2.2-hbcca054_0.json']);
	await makeCondaEnvironment(h('miniforge3/envs/old-kernels'), ['python-3.10.13-hd12c33a_0.json', 'spyder-kernels-2.3.0-py310_0.json']);
	await makeCondaEnvironment(h('projects/analysis/.env'), [python311, ipykernel]);
	await makeCondaEnvironment(h('data/conda-envs/from-condarc'), [python311, kernels242]);
	await makeCondaEnvironment(h('data/xdg-envs/from-xdg-condarc'), [python311]);
	// Broken: the interpreter the link points to was removed.
	await makeCondaMeta(h('miniforge3/envs/dangling'), [python311, kernels242]);
	await mkdir(h('miniforge3/envs/dangling/bin'));
	await symlink(h('removed/bin/python3.11'), h('miniforge3/envs/dangling/bin/python'));
	// Not an environment: no conda-meta/history.
	await mkdir(h('miniforge3/envs/not-conda/conda-meta'), { recursive: true });

	await mkdir(h('.conda'));
	await writeFile(
		h('.conda/environments.txt'),
		[h('miniforge3'), h('projects/analysis/.env'), h('deleted/env'), '', h('miniforge3/envs/old-kernels'), h('miniforge3/envs/not-conda')].join('\n'),
	);
	await writeFile(
		h('.condarc'),
		'channels:\n  - conda-forge\nenvs_dirs:\n  - ~/data/conda-envs # where the big ones live\n  - "/nonexistent/envs"\npkgs_dirs:\n  - ~/pkgs\n',
	);
	await mkdir(h('.config/conda'), { recursive: true });
	await writeFile(h('.config/conda/.condarc'), 'envs_dirs:\n- ~/data/xdg-envs\n');

	await makeVenv(h('.virtualenvs/with-system'), '--system-site-packages');
	await makeVenv(h('.virtualenvs/isolated'));
	await makeVenv(h('venvs/own-kernels'));
	await makeDistribution(h(`venvs/own-kernels/lib/python${systemVersion}/site-packages`), 'spyder_kernels-3.1.0.dist-info');
	await mkdir(h('.virtualenvs/not-a-venv'));

	// A pyenv build as pyenv lays it out; the executable is never run, so a script stands in for it.
	const pyenvVersion = h('.pyenv/versions/3.12.1');
	await mkdir(join(pyenvVersion, 'bin'), { recursive: true });
	await writeFile(join(pyenvVersion, 'bin/python3.12'), '#!/bin/sh\n', { mode: 0o755 });
	await symlink('python3.12', join(pyenvVersion, 'bin/python'));
	await mkdir(join(pyenvVersion, 'include/python3.12'), { recursive: true });
	await writeFile(join(pyenvVersion, 'include/python3.12/patchlevel.h'), '#define PY_MAJOR_VERSION 3\n#define PY_VERSION              "3.12.1"\n');
	await makeDistribution(join(pyenvVersion, 'lib/python3.12/site-packages'), 'ipykernel-6.29.5.dist-info');
	await mkdir(h('.pyenv/versions/failed-install'));
	// pyenv-virtualenv links a venv into versions/; its contents make it a venv.
	await makeVenv(h('.pyenv/versions/3.11.7/envs/tool'));
	await symlink(h('.pyenv/versions/3.11.7/envs/tool'), h('.pyenv/versions/tool'));

	listed = await scanEnvironments({ home, spyderKernelsRange: MATCHING_RANGE, extraPaths: [h('projects/analysis/.env'), h('missing-prefix')] });
});

test.after.always(async () => {
	await Promise.all(temporaries.map((directory) => rm(directory, { recursive: true, force: true })));
});

test('conda environments come from environments.txt, envs directories, .condarc envs_dirs and installation roots', (t) => {
	const conda = listed.filter((environment) => environment.kind === 'conda').map((environment) => environment.prefix);
	t.deepEqual(
		[...conda].sort(),
		[
			'miniforge3',
			'miniforge3/envs/old-kernels',
			'projects/analysis/.env',
			'data/conda-envs/from-condarc',
			'data/xdg-envs/from-xdg-condarc',
			'miniforge3/envs/dangling',
		]
			.map((path) => join(home, path))
			.sort(),
	);
	const base = byPrefix(join(home, 'miniforge3'));
	t.like(base, {
		name: 'miniforge3',
		python: join(home, 'miniforge3/bin/python'),
		pythonVersion: '3.11.4',
		spyderKernels: '2.4.2',
		ipykernel: true,
		writable: true,
	});
	t.is(base.broken, undefined);
	t.like(byPrefix(join(home, 'miniforge3/envs/old-kernels')), { name: 'old-kernels', pythonVersion: '3.10.13', spyderKernels: '2.3.0', ipykernel: false });
});

test('a stale environments.txt line and a directory without conda-meta/history are left out', (t) => {
	t.false(listed.some((environment) => environment.prefix.startsWith(join(home, 'deleted'))));
	t.false(listed.some((environment) => environment.prefix.endsWith('not-conda')));
});

test('a prefix found several ways is listed once, as the first source found it', (t) => {
	t.is(listed.filter((environment) => environment.prefix === join(home, 'projects/analysis/.env')).length, 1);
	t.is(new Set(listed.map((environment) => environment.id)).size, listed.length);
});

test('a dangling python symlink is listed as broken, and so not compatible', (t) => {
	t.like(byPrefix(join(home, 'miniforge3/envs/dangling')), {
		broken: 'python symlink is dangling',
		spyderKernels: '2.4.2',
		compatible: { ok: false, reason: 'the environment is broken: python symlink is dangling' },
	});
});

test("a venv with system site packages sees Debian's spyder-kernels; one without does not", (t) => {
	const withSystem = byPrefix(join(home, '.virtualenvs/with-system'));
	t.like(withSystem, {
		kind: 'venv',
		name: 'with-system',
		python: join(home, '.virtualenvs/with-system/bin/python'),
		ipykernel: true,
		compatible: { ok: true },
	});
	t.regex(withSystem.spyderKernels ?? '', /^2\.4\./);
	t.regex(withSystem.pythonVersion ?? '', /^3\.\d+\.\d+$/);
	t.is(withSystem.broken, undefined);

	const isolated = byPrefix(join(home, '.virtualenvs/isolated'));
	t.like(isolated, { kind: 'venv', ipykernel: false, compatible: { ok: false, reason: 'spyder-kernels is not installed' } });
	t.is(isolated.spyderKernels, undefined);

	t.like(byPrefix(join(home, 'venvs/own-kernels')), {
		kind: 'venv',
		spyderKernels: '3.1.0',
		compatible: { ok: false, reason: `spyder-kernels 3.1.0 found, needs ${MATCHING_RANGE}` },
	});
	t.false(listed.some((environment) => environment.name === 'not-a-venv'));
});

test('pyenv versions are read from patchlevel.h and site-packages; a linked pyenv-virtualenv counts as a venv', (t) => {
	t.like(byPrefix(join(home, '.pyenv/versions/3.12.1')), { kind: 'pyenv', name: '3.12.1', pythonVersion: '3.12.1', ipykernel: true });
	t.like(byPrefix(join(home, '.pyenv/versions/tool')), { kind: 'venv', name: 'tool' });
	t.false(listed.some((environment) => environment.name === 'failed-install'));
});

test("the system interpreter reports Debian's spyder-kernels and ipykernel", (t) => {
	const system = listed.find((environment) => environment.kind === 'system' && environment.python === SYSTEM_PYTHON);
	t.truthy(system);
	t.like(system, { name: SYSTEM_PYTHON, prefix: '/usr', ipykernel: true, compatible: { ok: true } });
	t.regex(system?.spyderKernels ?? '', /^2\.4\./);
	t.regex(system?.pythonVersion ?? '', /^3\.\d+/);
});

test('an extra path that does not exist is listed as broken', (t) => {
	t.like(byPrefix(join(home, 'missing-prefix')), { kind: 'system', broken: 'prefix does not exist', writable: false });
});

test('environments are ordered conda, venv, pyenv, system, then by name', (t) => {
	const order = ['conda', 'venv', 'pyenv', 'system'];
	const keys = listed.map((environment) => [order.indexOf(environment.kind), environment.name] as const);
	const sorted = [...keys].sort((left, right) => left[0] - right[0] || left[1].localeCompare(right[1], 'en', { numeric: true }));
	t.deepEqual(keys, sorted);
	t.deepEqual(
		listed.filter((environment) => environment.kind === 'conda').map((environment) => environment.name),
		['.env', 'dangling', 'from-condarc', 'from-xdg-condarc', 'miniforge3', 'old-kernels'],
	);
});

test('ids are the first 16 hex digits of the SHA-256 of the real prefix, the same on every run', async (t) => {
	const base = byPrefix(join(home, 'miniforge3'));
	t.is(
		base.id,
		createHash('sha256')
			.update(await realpath(join(home, 'miniforge3')))
			.digest('hex')
			.slice(0, 16),
	);
	const idsByPrefix = (environments: ScannedEnvironment[]) => Object.fromEntries(environments.map((environment) => [environment.prefix, environment.id]));
	const again = await scanEnvironments({ home, extraPaths: [join(home, 'projects/analysis/.env'), join(home, 'missing-prefix')] });
	t.deepEqual(idsByPrefix(again), idsByPrefix(listed));
	t.false(
		again.some((environment) => 'compatible' in environment),
		'no range, no verdict',
	);
});

test('against a range the installed spyder-kernels does not fit, the reason names both', async (t) => {
	const environments = await scanEnvironments({ home, spyderKernelsRange: FUTURE_RANGE });
	t.like(byPrefix(join(home, 'miniforge3'), environments), { compatible: { ok: false, reason: `spyder-kernels 2.4.2 found, needs ${FUTURE_RANGE}` } });
	t.like(byPrefix(join(home, 'venvs/own-kernels'), environments), { compatible: { ok: true } });
	const system = environments.find((environment) => environment.python === SYSTEM_PYTHON);
	t.regex(system?.compatible?.reason ?? '', /^spyder-kernels 2\.4\.\S+ found, needs >=3\.1\.0,<3\.2\.0$/);
});

test('an unreadable range is refused before anything is listed', async (t) => {
	await t.throwsAsync(scanEnvironments({ home, spyderKernelsRange: '~=2.4' }), { message: /unsupported version range "~=2\.4"/ });
});

test("the user's site directory comes first on sys.path, so its spyder-kernels wins", async (t) => {
	const userHome = await temporaryDirectory('ssd-envs-user-');
	await makeDistribution(join(userHome, `.local/lib/python${systemVersion}/site-packages`), 'spyder_kernels-2.4.9.dist-info');
	const environments = await scanEnvironments({ home: userHome });
	t.like(
		environments.find((environment) => environment.python === SYSTEM_PYTHON),
		{ kind: 'system', spyderKernels: '2.4.9' },
	);
});

test('a conda-meta the user may not read is listed as broken', async (t) => {
	const otherHome = await temporaryDirectory('ssd-envs-denied-');
	const prefix = join(otherHome, 'miniforge3');
	await makeCondaMeta(prefix, [python311]);
	await mkdir(join(prefix, 'bin'));
	await symlink(SYSTEM_PYTHON, join(prefix, 'bin/python'));
	await chmod(join(prefix, 'conda-meta'), 0o000);
	const environment = byPrefix(prefix, await discoverAsUnprivileged({ home: otherHome, systemInterpreters: [] }));
	t.like(environment, { kind: 'conda', broken: 'conda-meta unreadable (EACCES)' });
});

/** Root reads everything, so as root the scan runs in a child process as nobody. */
async function discoverAsUnprivileged(options: ScanOptions): Promise<ScannedEnvironment[]> {
	if (process.getuid?.() !== 0) return scanEnvironments(options);
	for (let directory = options.home; directory !== dirname(directory); directory = dirname(directory)) {
		if (directory.startsWith(tmpdir()) && directory !== tmpdir()) await chmod(directory, 0o755);
	}
	const module = pathToFileURL(resolve('server/src/session-host/environments/scan.ts')).href;
	const script = `const { scanEnvironments } = await import(${JSON.stringify(module)}); process.stdout.write(JSON.stringify(await scanEnvironments(${JSON.stringify(options)})));`;
	const child = await execa(process.execPath, ['--import=tsx', '--input-type=module', '--eval', script], {
		uid: 65534,
		gid: 65534,
		env: { HOME: '/nonexistent' },
	});
	return JSON.parse(child.stdout) as ScannedEnvironment[];
}

test('a hundred conda environments, discovered cold (timing is logged, not asserted)', async (t) => {
	const manyHome = await temporaryDirectory('ssd-envs-many-');
	const envsDirectory = join(manyHome, 'envs');
	const filler = Array.from({ length: 40 }, (_, index) => `package-number-${index}-1.${index}.0-h${index}abc_0.json`);
	await Promise.all(
		Array.from({ length: 100 }, async (_, index) => {
			const prefix = join(envsDirectory, `env-${index}`);
			await makeCondaMeta(prefix, [python311, kernels242, ipykernel, ...filler]);
			await mkdir(join(prefix, 'bin'));
			await symlink(SYSTEM_PYTHON, join(prefix, 'bin/python'));
		}),
	);
	await writeFile(join(manyHome, '.condarc'), `envs_dirs:\n  - ${envsDirectory}\n`);
	const options = { home: manyHome, systemInterpreters: [], spyderKernelsRange: MATCHING_RANGE };
	const coldStart = performance.now();
	const environments = await scanEnvironments(options);
	const cold = performance.now() - coldStart;
	const warmStart = performance.now();
	await scanEnvironments(options);
	const warm = performance.now() - warmStart;
	t.log(`100 conda environments: ${cold.toFixed(1)} ms cold (first call in this process for these paths), ${warm.toFixed(1)} ms on a second call`);
	const generated = environments.filter((environment) => environment.prefix.startsWith(envsDirectory));
	t.is(generated.length, 100);
	t.true(generated.every((environment) => environment.kind === 'conda' && environment.compatible?.ok === true));
});

test('version ranges: comma-separated clauses over dotted numeric versions', (t) => {
	const range = parseVersionRange('>=2.4.0,<2.5.0');
	t.true(range.includes('2.4.0'));
	t.true(range.includes('2.4'), '2.4 is 2.4.0');
	t.true(range.includes('2.4.10'), 'numeric, not textual');
	t.true(range.includes('2.4.2+git20230101'), 'a local label does not matter');
	t.true(range.includes('2.4.3.post1'));
	t.false(range.includes('2.3.9'));
	t.false(range.includes('2.5.0'));
	t.false(range.includes('2.4.0rc1'), 'a pre-release comes before its release');
	t.false(range.includes('2.5.0rc1'), 'a release candidate of the excluded version is excluded too');
	t.false(range.includes('2.5.0.dev3'));
	t.true(parseVersionRange('<2.5.0rc2').includes('2.5.0rc1'), 'unless the bound is itself a pre-release');
	t.false(range.includes('not-a-version'));

	t.true(parseVersionRange('>2.4').includes('2.4.1'));
	t.false(parseVersionRange('>2.4').includes('2.4.0'));
	t.true(parseVersionRange('<=3').includes('3.0.0'));
	t.true(parseVersionRange('==3.1').includes('3.1.0'));
	t.false(parseVersionRange('!=3.1.0').includes('3.1'));
	t.true(parseVersionRange(' >= 3.0.0a1 , != 3.0.0 ').includes('3.0.0b2'));
	t.true(parseVersionRange('>=3.0.0.dev1').includes('3.0.0a1'), 'dev < alpha');
	t.true(parseVersionRange('>3.0.0rc2').includes('3.0.0'));
	for (const bad of ['', '2.4', '>=', '~=2.4', '>=2.4,', '=>2.4', '>=two']) t.throws(() => parseVersionRange(bad), undefined, bad);
});

test('metadata file names: conda records, dist-info and egg-info', (t) => {
	t.deepEqual(parseCondaRecordFilename('spyder-kernels-2.4.2-py311_0.json'), { name: 'spyder-kernels', version: '2.4.2' });
	t.deepEqual(parseCondaRecordFilename('python-3.11.4-h955ad1f_0.json'), { name: 'python', version: '3.11.4' });
	t.deepEqual(parseCondaRecordFilename('ca-certificates-2024.2.2-hbcca054_0.json'), { name: 'ca-certificates', version: '2024.2.2' });
	t.is(parseCondaRecordFilename('history'), undefined);
	t.is(parseCondaRecordFilename('nodash.json'), undefined);

	t.deepEqual(parseDistributionDirName('spyder_kernels-2.4.2.dist-info'), { name: 'spyder-kernels', version: '2.4.2' });
	t.deepEqual(parseDistributionDirName('spyder_kernels-2.4.2.egg-info'), { name: 'spyder-kernels', version: '2.4.2' });
	t.deepEqual(parseDistributionDirName('lazr.restfulclient-0.14.5.egg-info'), { name: 'lazr-restfulclient', version: '0.14.5' });
	t.deepEqual(parseDistributionDirName('foo-1.0-py3.11.egg-info'), { name: 'foo', version: '1.0' });
	t.deepEqual(parseDistributionDirName('debugpy-1.6.3+git20221103.a2a3328.dist-info'), { name: 'debugpy', version: '1.6.3+git20221103.a2a3328' });
	t.deepEqual(parseDistributionDirName('cryptography.egg-info'), { name: 'cryptography' });
	t.is(parseDistributionDirName('spyder_kernels'), undefined);
	t.is(normalizePackageName('Spyder.Kernels__x'), 'spyder-kernels-x');
});

test('an unversioned egg-info takes its version from PKG-INFO', async (t) => {
	const prefix = join(await temporaryDirectory('ssd-envs-egg-'), 'venv');
	await makeVenv(prefix);
	const egg = join(prefix, `lib/python${systemVersion}/site-packages/spyder_kernels.egg-info`);
	await mkdir(egg, { recursive: true });
	await writeFile(join(egg, 'PKG-INFO'), 'Metadata-Version: 2.1\nName: spyder-kernels\nVersion: 2.4.7\n');
	const environments = await scanEnvironments({ home: dirname(prefix), extraPaths: [prefix], systemInterpreters: [] });
	t.like(byPrefix(prefix, environments), { kind: 'venv', spyderKernels: '2.4.7' });
});

test('pyvenv.cfg and .condarc forms', (t) => {
	t.deepEqual(parsePyvenvCfg('home = /usr/bin\ninclude-system-site-packages = True\nversion = 3.11.2\n'), {
		home: '/usr/bin',
		version: '3.11.2',
		includeSystemSitePackages: true,
	});
	t.deepEqual(parsePyvenvCfg('home=/opt/py/bin\nversion_info = 3.12.1.final.0\n'), {
		home: '/opt/py/bin',
		version: '3.12.1',
		includeSystemSitePackages: false,
	});
	t.deepEqual(parsePyvenvCfg(''), { includeSystemSitePackages: false });

	t.deepEqual(parseCondarcEnvsDirs("envs_dirs:\n  - ~/envs\n  # a comment\n\n  - '/data/conda envs'  # quoted\n  - /x#y\nchannels:\n  - defaults\n"), [
		'~/envs',
		'/data/conda envs',
		'/x#y',
	]);
	t.deepEqual(parseCondarcEnvsDirs('envs_dirs:\n- /a\n- /b\n'), ['/a', '/b']);
	t.deepEqual(parseCondarcEnvsDirs('channels:\n  - defaults\n'), []);
	t.deepEqual(parseCondarcEnvsDirs('  envs_dirs:\n    - /nested/is/not/top-level\n'), []);
});
