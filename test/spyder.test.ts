/**
 * The Spyder plugin in the real Spyder (Debian's 5.4, headless), against a
 * real ssd-server found by discovery and a real user: pytest-qt drives
 * spyder-bridge/python/tests/test_spyder_e2e.py, one Spyder run per test
 * there. Set SPYDER_SCREENSHOTS_DIR (e.g. to docs/) to keep the screenshots.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { execa } from 'execa';
import { runAs, writeAs } from './helpers/as-user.js';
import { withTestUsers, type TestUser } from './helpers/os-users.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { slurmLab } from '../scripts/slurm-lab.mjs';
import { requireRoot } from './helpers/root.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const pluginDir = join(root, 'spyder-bridge', 'python');
const python = '/usr/bin/python3';
const screenshots = process.env.SPYDER_SCREENSHOTS_DIR;
// Pictures for people read better with a plain server name; unique names keep parallel runs apart otherwise.
const instance = screenshots ? 'labserver' : `spyder-e2e-${randomBytes(3).toString('hex')}`;
const newUser = withTestUsers(test);
let user: TestUser;
let server: TestServer;
/** An environment's site-packages, in this Python's layout. */
let sitePackages: (prefix: string) => string;
/** What makes an environment's spyder-kernels too old for every Spyder tested: metadata only (the server reads no more). */
const tooOld = 'spyder_kernels-2.3.3.dist-info';
const tooOldMetadata = 'Metadata-Version: 2.1\nName: spyder-kernels\nVersion: 2.3.3\n';
/** Spyder's throwaway HOME: the plugin is installed into its user site, Spyder's config and the client's key live there. */
let home: string;

/** pip with the throwaway HOME, so that --user means its site directory and nothing else. */
const pip = (args: string[]) =>
	execa(python, ['-m', 'pip', ...args, '--break-system-packages', '--disable-pip-version-check', '--no-input'], {
		env: { PATH: process.env.PATH, HOME: home, PYTHONDONTWRITEBYTECODE: '1' },
		extendEnv: false,
	});

test.before(async () => {
	requireRoot('the Spyder test needs root: it creates an OS user');
	const missing = await execa(python, ['-c', 'import spyder, pytestqt, pytest'], { reject: false });
	if (missing.exitCode !== 0) throw new Error(`Spyder or pytest-qt is missing (apt-get install spyder python3-pytestqt): ${missing.stderr}`);
	user = await newUser();
	// What the dialog must show as unusable: no spyder-kernels, and one too old (the server reads metadata only).
	await runAs(user, python, ['-m', 'venv', '--without-pip', join(user.home, '.venvs', 'bare')]);
	const old = join(user.home, '.venvs', 'analysis-2023');
	await runAs(user, python, ['-m', 'venv', '--without-pip', old]);
	const version = (await execa(python, ['-c', 'import sys; print("%d.%d" % sys.version_info[:2])'])).stdout.trim();
	sitePackages = (prefix) => join(prefix, 'lib', `python${version}`, 'site-packages');
	await writeAs(user, join(sitePackages(old), tooOld, 'METADATA'), tooOldMetadata);
	server = await startTestServer({ discovery: { enabled: true, interfaces: ['lo'], instanceName: instance } });
	home = await mkdtemp(join(tmpdir(), 'spyder-home-'));
	await mkdir(join(home, 'tmp'));
	await mkdir(join(home, 'run'), { mode: 0o700 });
	// The documented install command, offline, into the throwaway HOME's user site only.
	await pip(['install', '--user', '--no-build-isolation', '--no-deps', '-e', pluginDir]);
});

test.after.always(async () => {
	if (home) {
		await pip(['uninstall', '-y', 'spyder-remote']).catch(() => undefined);
		await rm(home, { recursive: true, force: true });
	}
	await server?.stop();
});

/** Runs one pytest test in its own Python, with the environment Spyder must see before it is imported. */
function pytest(target: string, extra: Record<string, string> = {}, timeout = 120_000) {
	return execa(python, ['-m', 'pytest', '-p', 'no:cacheprovider', '-q', '-x', join(pluginDir, 'tests', target)], {
		cwd: home,
		reject: false,
		timeout,
		extendEnv: false,
		env: {
			// Spyder strips PYTHONPATH anyway; the plugin comes from the user site.
			PATH: process.env.PATH,
			HOME: home,
			// Under pytest Spyder keeps its configuration in a fresh directory below TMPDIR.
			TMPDIR: join(home, 'tmp'),
			XDG_RUNTIME_DIR: join(home, 'run'),
			LANG: 'C.UTF-8',
			PYTHONDONTWRITEBYTECODE: '1',
			// What pytest printed survives a crash or a timeout.
			PYTHONUNBUFFERED: '1',
			SPYDER_PYTEST: 'True',
			QT_QPA_PLATFORM: 'offscreen',
			QTWEBENGINE_DISABLE_SANDBOX: '1',
			...extra,
		},
	});
}

/** spyder-remote-bridge processes started from the throwaway HOME that are still running. */
async function bridgesLeft(): Promise<number[]> {
	const pids: number[] = [];
	for (const entry of await readdir('/proc')) {
		if (!/^\d+$/.test(entry)) continue;
		const [commandLine, environment] = await Promise.all([readFile(`/proc/${entry}/cmdline`, 'utf8'), readFile(`/proc/${entry}/environ`, 'utf8')]).catch(() => [
			'',
			'',
		]);
		if (commandLine.includes('spyder-remote-bridge') && environment.split('\0').includes(`HOME=${home}`)) pids.push(Number(entry));
	}
	return pids;
}

test.serial('the plugin parts without Spyder: framing, and finding the bridge and Node', async (t) => {
	const run = await pytest('test_units.py');
	t.is(run.exitCode, 0, `${run.stdout}\n${run.stderr}`);
});

let parameters: Record<string, string>;
let kernel: string;

test.serial('in Spyder: connect through the menu, work remotely, leave', async (t) => {
	t.timeout(230_000);
	parameters = {
		SSD_E2E_HOST: '127.0.0.1',
		SSD_E2E_PORT: String(server.server.port),
		SSD_E2E_FINGERPRINT: server.server.fingerprint,
		SSD_E2E_INSTANCE: instance,
		SSD_E2E_USER: user.name,
		SSD_E2E_PASSWORD: user.password,
		SSD_E2E_UID: String(user.uid),
		SSD_E2E_STATE: join(home, 'e2e-state.json'),
		SSD_E2E_SCREENSHOTS: screenshots ? resolve(root, screenshots) : '',
	};
	const first = await pytest('test_spyder_e2e.py::test_connect_work_and_leave', parameters, 180_000);
	t.is(first.exitCode, 0, `${first.timedOut ? 'timed out' : (first.signal ?? '')}\n${first.stdout}\n${first.stderr}`);
	t.deepEqual(await bridgesLeft(), [], 'the bridge exits with Spyder');
	kernel = (JSON.parse(await readFile(parameters.SSD_E2E_STATE, 'utf8')) as { kernel: string }).kernel;
	const session = await server.open();
	await session.loginWithPassword(user.name, user.password);
	const left = (await session.listKernels()).find((candidate) => candidate.id === kernel);
	t.truthy(left, 'closing Spyder detached from the kernel without stopping it');
	await session.close();
});

test.serial('in Spyder again: come back to the same kernel, restart it, shut it down, stop the rest on exit', async (t) => {
	t.timeout(170_000);
	if (!kernel) throw new Error('the first Spyder run left no kernel to come back to');
	const second = await pytest('test_spyder_e2e.py::test_reopen_reattaches', parameters);
	t.is(second.exitCode, 0, `${second.timedOut ? 'timed out' : (second.signal ?? '')}\n${second.stdout}\n${second.stderr}`);
	t.deepEqual(await bridgesLeft(), []);
	const session = await server.open();
	await session.loginWithPassword(user.name, user.password);
	const last = (JSON.parse(await readFile(parameters.SSD_E2E_STATE, 'utf8')) as { kernel: string }).kernel;
	t.not(last, kernel, 'the last console had a kernel of its own');
	// One shut down from "Administer remote…", one died, and the last stopped with Spyder (stop_kernels_on_exit).
	t.deepEqual(await session.listKernels(), []);
	await session.close();
});

test.serial('in Spyder: running kernels it cannot use are greyed out, and re-attaching to one is refused in a sentence', async (t) => {
	t.timeout(170_000);
	// Both venvs run the system spyder-kernels through their system site packages. "mismatched" claims 2.3.3
	// from the start; "shifting" fits until the test renames its staged 2.3.3 metadata into place while the dialog is open.
	const mismatched = join(user.home, '.venvs', 'mismatched');
	const shifting = join(user.home, '.venvs', 'shifting');
	for (const prefix of [mismatched, shifting]) await runAs(user, python, ['-m', 'venv', '--without-pip', '--system-site-packages', prefix]);
	await writeAs(user, join(sitePackages(mismatched), tooOld, 'METADATA'), tooOldMetadata);
	const staged = join(sitePackages(shifting), `${tooOld}.staged`);
	await writeAs(user, join(staged, 'METADATA'), tooOldMetadata);
	const session = await server.open();
	await session.loginWithPassword(user.name, user.password);
	const environments = await session.listEnvironments({ refresh: true });
	const idOf = (prefix: string) => environments.find((environment) => environment.prefix === prefix)!.id;
	const system = environments.find((environment) => environment.kind === 'system')!.id;
	// Started without a range, as ssd or another Spyder would.
	const kernels = {
		mismatched: (await session.startKernel({ environment: idOf(mismatched), kind: 'spyder' })).id,
		ipykernel: (await session.startKernel({ environment: system, kind: 'ipykernel' })).id,
		shifting: (await session.startKernel({ environment: idOf(shifting), kind: 'spyder' })).id,
	};
	const run = await pytest('test_connect_refusals.py', {
		...parameters,
		SSD_E2E_KERNELS: JSON.stringify(kernels),
		SSD_E2E_STAGED_METADATA: staged,
		SSD_E2E_METADATA: join(sitePackages(shifting), tooOld),
	});
	t.is(run.exitCode, 0, `${run.stdout}\n${run.stderr}`);
	t.deepEqual(await bridgesLeft(), []);
	t.deepEqual((await session.listKernels()).map((kernel) => kernel.id).sort(), Object.values(kernels).sort(), 'a refused attach leaves the kernel alone');
	for (const id of Object.values(kernels)) await session.shutdownKernel(id);
	await session.close();
});

test.serial('in Spyder: run on a Slurm partition, where the console reaches its kernel on the node, Variable Explorer included', async (t) => {
	t.timeout(170_000);
	await slurmLab.up();
	const slurmServer = await startTestServer({ listen: { host: slurmLab.controllerAddress, port: 0 } });
	try {
		const run = await pytest('test_spyder_e2e.py::test_slurm_console', {
			...parameters,
			SSD_E2E_SLURM_HOST: slurmLab.controllerAddress,
			SSD_E2E_SLURM_PORT: String(slurmServer.server.port),
		});
		t.is(run.exitCode, 0, `${run.stdout}\n${run.stderr}`);
		t.deepEqual(await bridgesLeft(), []);
		const session = await slurmServer.open({ host: slurmLab.controllerAddress });
		await session.loginWithPassword(user.name, user.password);
		const [kernel] = await session.listKernels();
		t.is(kernel?.job?.node, 'node1', 'closing Spyder left the Slurm kernel running, as any other');
		if (kernel) await session.shutdownKernel(kernel.id);
		await session.close();
	} finally {
		await slurmServer.stop();
		await execa('scancel', ['--user', user.name], { reject: false });
		await slurmLab.down();
	}
});
