/**
 * The examples, run as their READMEs say, against a real server: so that
 * they keep working as the library and the protocol move.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { execa } from 'execa';
import { discover, KernelForwarder, type RemoteSession } from '@spyder-remote/client';
import { JupyterClient } from '@spyder-remote/conformance/jupyter';
import { commands, listServers, openKernel } from '../examples/vscode-extension/dist/core.mjs';
import { withTestUsers, type TestUser } from './helpers/os-users.js';
import { requireRoot, startTestServer, temporaryKnownHosts, type TestServer } from './helpers/server.js';

const root = new URL('..', import.meta.url).pathname;
const instanceName = `examples-${randomBytes(3).toString('hex')}`;
const newUser = withTestUsers(test);
let server: TestServer;
let user: TestUser;
let scratch: string;
const sessions: RemoteSession[] = [];
// Serial: two Spyder kernels starting at once for a new account race to create ~/.config/spyder-py3,
// and spyder-kernels 2.4 then dies with FileExistsError. That is Spyder's bug, not the examples'.
const kernelTest = test.serial;

test.before(async (t) => {
	requireRoot(t);
	user = await newUser();
	// Announced on loopback only, under a name of its own, so the examples can find it without HOST.
	server = await startTestServer({ discovery: { enabled: true, interfaces: ['lo'], instanceName } });
	scratch = await mkdtemp(join(tmpdir(), 'ssd-examples-'));
	// The responder probes its names before it answers; the examples listen for seconds, not for that.
	for await (const { server: found } of discover({ interfaces: ['lo'], knownHosts: false, signal: AbortSignal.timeout(10_000) })) {
		if (found.instanceName === instanceName) break;
	}
});

test.after.always(async () => {
	for (const session of sessions) session.destroy();
	await server?.stop();
	if (scratch) await rm(scratch, { recursive: true, force: true });
});

async function login(): Promise<RemoteSession> {
	const session = await server.open();
	await session.loginWithPassword(user.name, user.password);
	sessions.push(session);
	return session;
}

/** Runs the terminal example with a password on stdin and a private client config directory. */
const terminal = (args: string[]) =>
	execa(
		process.execPath,
		[join(root, 'examples/terminal/dist/main.js'), ...args, '--user', user.name, '--password-stdin', '--fingerprint', server.server.fingerprint],
		{
			input: `${user.password}\n`,
			env: { SPYDER_REMOTE_CONFIG_DIR: join(scratch, 'terminal-config') },
			reject: false,
			timeout: 60_000,
		},
	);

kernelTest('terminal: finds the announced server, starts a Spyder kernel, runs the code and prints its output', async (t) => {
	const run = await terminal(['--instance', instanceName, '--interface', 'lo', '--env', '/usr', '--code', 'import os; print("uid", os.getuid()); print(6*7)']);
	t.is(run.exitCode, 0, run.stderr);
	t.is(run.stdout, `uid ${user.uid}\n42`);
	t.regex(run.stderr, new RegExp(`found ${instanceName} at 127\\.0\\.0\\.1:${server.server.port}`));
	t.regex(run.stderr, /starting a kernel \(spyder\) in/);
});

kernelTest('terminal: with HOST:PORT, prints an expression value, and exits 1 with the exception when the code raises', async (t) => {
	const target = `127.0.0.1:${server.server.port}`;
	const value = await terminal([target, '--kind', 'ipykernel', '--code', '6*7']);
	t.is(value.exitCode, 0, value.stderr);
	t.is(value.stdout, '42');
	const raising = await terminal([target, '--kind', 'ipykernel', '--code', '1/0']);
	t.is(raising.exitCode, 1);
	t.regex(raising.stderr, /ZeroDivisionError: division by zero/);
	const session = await login();
	t.deepEqual(await session.listKernels(), [], 'the example stops the kernels it started');
});

kernelTest('VS Code core: lists configured and announced servers, opens a kernel whose connection file works, and closes it', async (t) => {
	const hostsFile = join(scratch, 'hosts');
	await writeFile(hostsFile, `lab 127.0.0.1:${server.server.port}\n`);
	const servers = await listServers({ hostsFile, interfaces: ['lo'], discoveryMs: 1500, knownHosts: false });
	t.like(
		servers.find((entry) => entry.label === 'lab'),
		{ host: '127.0.0.1', port: server.server.port },
	);
	const announced = servers.find((entry) => entry.label === instanceName);
	t.like(announced, { host: '127.0.0.1', port: server.server.port, announcedFingerprint: server.server.fingerprint });

	const connectionDir = join(scratch, 'vscode-runtime');
	const opened = await openKernel({
		server: announced!,
		user: user.name,
		password: async () => user.password,
		trust: async (fingerprint) => fingerprint === server.server.fingerprint,
		chooseEnvironment: async (environments) => environments.find((environment) => environment.prefix === '/usr'),
		knownHosts: await temporaryKnownHosts(),
		connectionDir,
	});
	t.truthy(opened);
	t.is(opened!.kernel.kind, 'spyder', 'a Spyder kernel where spyder-kernels is installed');
	t.is((await stat(opened!.connectionFile)).mode & 0o777, 0o600);
	const info = JSON.parse(await readFile(opened!.connectionFile, 'utf8'));
	const jupyter = await JupyterClient.connect({ shell: tcpConnect(info.shell_port, info.ip), iopub: tcpConnect(info.iopub_port, info.ip) }, info.key);
	await jupyter.waitReady();
	t.is((await jupyter.execute('print(6*7)')).stdout, '42\n');
	jupyter.close();
	await opened!.close({ stopKernel: true });
	await t.throwsAsync(stat(opened!.connectionFile), { code: 'ENOENT' });
	t.false((await (await login()).listKernels()).some((kernel) => kernel.id === opened!.kernel.id));
});

test('VS Code core: an unknown certificate is refused unless the user trusts it, before any password is asked', async (t) => {
	let asked = false;
	const error = await t.throwsAsync(
		openKernel({
			server: { host: '127.0.0.1', port: server.server.port },
			user: user.name,
			password: async () => {
				asked = true;
				return user.password;
			},
			trust: async () => false,
			chooseEnvironment: async () => undefined,
			knownHosts: await temporaryKnownHosts(),
		}),
	);
	t.regex(error!.message, new RegExp(server.server.fingerprint.replace(/[+/]/g, '\\$&')));
	t.false(asked);
});

test('VS Code extension: package.json contributes exactly the commands activate() registers', async (t) => {
	const manifest = JSON.parse(await readFile(join(root, 'examples/vscode-extension/package.json'), 'utf8'));
	t.deepEqual(manifest.contributes.commands, commands);
	t.is(manifest.main, './dist/extension.cjs');
	// A stand-in for the `vscode` module, found through NODE_PATH as VS Code's own would be found by its loader.
	const stubs = join(scratch, 'node-path');
	await mkdir(join(stubs, 'vscode'), { recursive: true });
	await writeFile(
		join(stubs, 'vscode', 'index.js'),
		'exports.registered = [];\nexports.commands = { registerCommand: (id) => (exports.registered.push(id), { dispose() {} }) };\n',
	);
	const probe = `const extension = require(${JSON.stringify(join(root, 'examples/vscode-extension/dist/extension.cjs'))});
extension.activate({ subscriptions: [] }).then(() => console.log(JSON.stringify(require('vscode').registered)));`;
	const run = await execa(process.execPath, ['-e', probe], { env: { NODE_PATH: stubs } });
	t.deepEqual(
		JSON.parse(run.stdout),
		manifest.contributes.commands.map((entry: { command: string }) => entry.command),
	);
});

kernelTest('Jupyter client: run_code.py runs code through the connection file the client library wrote', async (t) => {
	const session = await login();
	const environment = (await session.listEnvironments()).find((candidate) => candidate.prefix === '/usr')!;
	const kernel = await session.startKernel({ environment: environment.id, kind: 'ipykernel' });
	const forwarder = await KernelForwarder.open(session, kernel, { connectionDir: join(scratch, 'jupyter-runtime') });
	try {
		const script = join(root, 'examples/jupyter-client/run_code.py');
		const ok = await execa('/usr/bin/python3', [script, forwarder.connectionFile, 'import os\nprint("uid", os.getuid())\n6*7'], {
			reject: false,
			timeout: 60_000,
		});
		t.is(ok.exitCode, 0, ok.stderr);
		t.is(ok.stdout, `uid ${user.uid}\n42`);
		const raising = await execa('/usr/bin/python3', [script, forwarder.connectionFile, 'raise ValueError("nope")'], { reject: false, timeout: 60_000 });
		t.is(raising.exitCode, 1);
		t.regex(raising.stderr, /ValueError: nope/);
	} finally {
		await forwarder.close();
		await session.shutdownKernel(kernel.id);
	}
});
