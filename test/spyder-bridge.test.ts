/**
 * spyder-remote-bridge as the Spyder plugin drives it: a child process
 * speaking JSON-RPC over its stdio, against a real server and a real user.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import test, { type ExecutionContext } from 'ava';
import { execa } from 'execa';
import { ErrorCodes, type RemoteSession } from '@spyder-remote/client';
import { validate, type TSchema } from '@spyder-remote/protocol';
import { createMessageConnection, StreamMessageReader, StreamMessageWriter, type MessageConnection, type ResponseError } from 'vscode-jsonrpc/node';
import {
	BridgeErrorCodes,
	EnvironmentCreateRequest,
	EnvironmentListRequest,
	EnvironmentRemoveRequest,
	HostConfirmRequest,
	InitializeRequest,
	KernelAttachRequest,
	KernelDidExitNotification,
	KernelDidRestartNotification,
	KernelListRequest,
	KernelStartRequest,
	OperationProgressNotification,
	SessionLoginRequest,
	SessionOpenRequest,
	SessionSaveKeyRequest,
	type HostConfirmParams,
	type KernelDidExitParams,
	type KernelDidRestartParams,
	type OperationProgressParams,
} from 'spyder-remote-bridge';
import { runAs, writeAs } from './helpers/as-user.js';
import { withTestUsers, type TestUser } from './helpers/os-users.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { ZmtpSocket } from '../server/src/session-host/kernels/zmtp.js';
import { requireRoot } from './helpers/root.js';

const bridgeScript = fileURLToPath(new URL('../spyder-bridge/dist/bin/spyder-remote-bridge.js', import.meta.url));
const range = '>=2.4.0,<2.5.0';
const newUser = withTestUsers(test);
let server: TestServer;
let alice: TestUser;
const bridges = new Set<ChildProcess>();

test.before(async () => {
	requireRoot('bridge tests need root: they create OS users');
	alice = await newUser();
	// A venv whose spyder-kernels is too old for Spyder 5.4: the server reads metadata, so the metadata is enough.
	const old = join(alice.home, '.venvs', 'analysis-2023');
	await runAs(alice, '/usr/bin/python3', ['-m', 'venv', '--without-pip', old]);
	const pythonVersion = (await execa('/usr/bin/python3', ['-c', 'import sys; print("%d.%d" % sys.version_info[:2])'])).stdout.trim();
	await writeAs(
		alice,
		join(old, 'lib', `python${pythonVersion}`, 'site-packages', 'spyder_kernels-2.3.3.dist-info', 'METADATA'),
		'Metadata-Version: 2.1\nName: spyder-kernels\nVersion: 2.3.3\n',
	);
	server = await startTestServer();
});
test.after.always(async () => {
	for (const bridge of bridges) bridge.kill('SIGKILL');
	await server?.stop();
});

interface Bridge {
	readonly process: ChildProcess;
	readonly connection: MessageConnection;
	readonly configDir: string;
	readonly runtimeDir: string;
	readonly exited: Promise<number | null>;
	/** What `host/confirm` answers; records what it was asked. */
	trust: boolean;
	readonly asked: HostConfirmParams[];
	readonly progress: OperationProgressParams[];
}

/** A bridge of its own (own known_hosts, own key, own runtime dir), initialized as Spyder 5.4.2 would. */
async function startBridge(options: { stopKernelsOnExit?: boolean; configDir?: string } = {}): Promise<Bridge> {
	const configDir = options.configDir ?? (await mkdtemp(join(tmpdir(), 'bridge-config-')));
	const runtimeDir = await mkdtemp(join(tmpdir(), 'bridge-runtime-'));
	const child = spawn(process.execPath, [bridgeScript], {
		env: { PATH: process.env.PATH, SPYDER_REMOTE_CONFIG_DIR: configDir, JUPYTER_RUNTIME_DIR: runtimeDir },
		stdio: ['pipe', 'pipe', 'inherit'],
	});
	bridges.add(child);
	const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
	const connection = createMessageConnection(new StreamMessageReader(child.stdout!), new StreamMessageWriter(child.stdin!));
	const bridge: Bridge = { process: child, connection, configDir, runtimeDir, exited, trust: true, asked: [], progress: [] };
	connection.onRequest(HostConfirmRequest.type, (params) => {
		bridge.asked.push(params);
		return { trust: bridge.trust };
	});
	connection.onNotification(OperationProgressNotification.type, (params) => {
		bridge.progress.push(params);
	});
	connection.listen();
	await connection.sendRequest(InitializeRequest.type, {
		spyderVersion: '5.4.2',
		spyderKernelsRange: range,
		stopKernelsOnExit: options.stopKernelsOnExit ?? false,
	});
	return bridge;
}

async function loggedIn(bridge: Bridge, user = alice) {
	const info = await bridge.connection.sendRequest(SessionOpenRequest.type, { host: '127.0.0.1', port: server.server.port, label: 'lab' });
	await bridge.connection.sendRequest(SessionLoginRequest.type, { session: info.session, user: user.name, password: user.password });
	return info.session;
}

/** What the bridge sent matches its schema in spyder-bridge/src/protocol/. */
function conforms(t: ExecutionContext, schema: TSchema, value: unknown): void {
	t.is(validate(schema, value), undefined, JSON.stringify(value));
}

async function failure(promise: Promise<unknown>): Promise<ResponseError<unknown>> {
	try {
		await promise;
	} catch (error) {
		return error as ResponseError<unknown>;
	}
	throw new Error('expected the request to fail');
}

async function ownSession(): Promise<RemoteSession> {
	const session = await server.open();
	await session.loginWithPassword(alice.name, alice.password);
	return session;
}

test('unreachable servers are explained in a sentence', async (t) => {
	const bridge = await startBridge();
	const refused = await failure(bridge.connection.sendRequest(SessionOpenRequest.type, { host: '127.0.0.1', port: 1 }));
	t.is(refused.code, BridgeErrorCodes.Unreachable);
	t.is(refused.message, 'Cannot connect to 127.0.0.1:1: the connection was refused. Is ssd-server running there, on this port?');
	const unknown = await failure(bridge.connection.sendRequest(SessionOpenRequest.type, { host: 'no-such-host.invalid', port: 7446 }));
	t.is(unknown.code, BridgeErrorCodes.Unreachable);
	t.regex(unknown.message, /no-such-host\.invalid:7446: that host name is not known/);
	bridge.process.stdin!.end();
	t.is(await bridge.exited, 0);
});

test('first contact asks the plugin: refused, nothing is pinned; trusted, the fingerprint is pinned and not asked again', async (t) => {
	const bridge = await startBridge();
	bridge.trust = false;
	const refused = await failure(bridge.connection.sendRequest(SessionOpenRequest.type, { host: '127.0.0.1', port: server.server.port }));
	t.is(refused.code, BridgeErrorCodes.HostNotTrusted);
	t.deepEqual(bridge.asked, [{ host: '127.0.0.1', port: server.server.port, fingerprint: server.server.fingerprint }]);
	await t.throwsAsync(stat(join(bridge.configDir, 'known_hosts')));

	bridge.trust = true;
	const info = await bridge.connection.sendRequest(SessionOpenRequest.type, { host: '127.0.0.1', port: server.server.port });
	t.is(info.fingerprint, server.server.fingerprint);
	t.is(await readFile(join(bridge.configDir, 'known_hosts'), 'utf8'), `127.0.0.1:${server.server.port} ${server.server.fingerprint}\n`);
	await bridge.connection.sendRequest(SessionOpenRequest.type, { host: '127.0.0.1', port: server.server.port });
	t.is(bridge.asked.length, 2, 'a pinned server is not asked about again');
	bridge.process.stdin!.end();
	t.is(await bridge.exited, 0);
});

test('a changed certificate is refused, naming both fingerprints and what to do', async (t) => {
	const configDir = await mkdtemp(join(tmpdir(), 'bridge-config-'));
	const pinned = `SHA256:${'A'.repeat(43)}`;
	await writeFile(join(configDir, 'known_hosts'), `127.0.0.1:${server.server.port} ${pinned}\n`);
	const bridge = await startBridge({ configDir });
	const changed = await failure(bridge.connection.sendRequest(SessionOpenRequest.type, { host: '127.0.0.1', port: server.server.port }));
	t.is(changed.code, BridgeErrorCodes.HostKeyChanged);
	t.true(changed.message.includes(pinned) && changed.message.includes(server.server.fingerprint), changed.message);
	t.true(changed.message.includes(join(configDir, 'known_hosts')));
	t.deepEqual(bridge.asked, [], 'never offered to be overridden');
	bridge.process.stdin!.end();
});

test('a wrong password, a key login and its failure are sentences with codes the plugin can act on', async (t) => {
	const bridge = await startBridge();
	const info = await bridge.connection.sendRequest(SessionOpenRequest.type, { host: '127.0.0.1', port: server.server.port, label: 'lab' });
	const wrong = await failure(bridge.connection.sendRequest(SessionLoginRequest.type, { session: info.session, user: alice.name, password: 'nope' }));
	t.is(wrong.code, ErrorCodes.AuthenticationFailed);
	t.regex(wrong.message, /^Login to lab \(127\.0\.0\.1:\d+\) failed: the user name or password is wrong/);
	const noKey = await failure(bridge.connection.sendRequest(SessionLoginRequest.type, { session: info.session, user: alice.name }));
	t.is(noKey.code, BridgeErrorCodes.NoKey);

	const session = await loggedIn(bridge);
	const { fingerprint } = await bridge.connection.sendRequest(SessionSaveKeyRequest.type, { session });
	t.regex(fingerprint, /^SHA256:/);
	const again = await bridge.connection.sendRequest(SessionOpenRequest.type, { host: '127.0.0.1', port: server.server.port });
	const byKey = await bridge.connection.sendRequest(SessionLoginRequest.type, { session: again.session, user: alice.name });
	conforms(t, SessionOpenRequest.result, again);
	conforms(t, SessionLoginRequest.result, byKey);
	t.is(byKey.method, 'publicKey');
	t.is(byKey.whoami.uid, alice.uid);
	bridge.process.stdin!.end();
});

test("environments say in Spyder's words why a console cannot run there, and a create reports progress", async (t) => {
	const bridge = await startBridge();
	const session = await loggedIn(bridge);
	const listed = await bridge.connection.sendRequest(EnvironmentListRequest.type, { session });
	conforms(t, EnvironmentListRequest.result, listed);
	const { environments } = listed;
	const old = environments.find((environment) => environment.name === 'analysis-2023')!;
	t.false(old.usable);
	t.is(old.reason, 'spyder-kernels 2.3.3 found, Spyder 5.4 needs >=2.4,<2.5');
	t.true(environments.some((environment) => environment.kind === 'system' && environment.usable));

	const { environment } = await bridge.connection.sendRequest(EnvironmentCreateRequest.type, { session, name: 'scratch', kind: 'venv', operation: 'op-1' });
	t.false(environment.usable);
	t.is(environment.reason, 'spyder-kernels is not installed; Spyder 5.4 needs >=2.4,<2.5');
	t.deepEqual([bridge.progress[0]?.kind, bridge.progress.at(-1)?.kind], ['begin', 'end']);
	t.true(bridge.progress.every((progress) => progress.operation === 'op-1'));
	for (const progress of bridge.progress) conforms(t, OperationProgressNotification.params, progress);
	await bridge.connection.sendRequest(EnvironmentRemoveRequest.type, { session, id: environment.id });
	bridge.process.stdin!.end();
});

test('running kernels are judged for this Spyder by their environment, and one it cannot use is refused at attach, in a sentence', async (t) => {
	const bridge = await startBridge();
	const session = await loggedIn(bridge);
	const own = await ownSession();
	const environments = await own.listEnvironments();
	const system = environments.find((environment) => environment.kind === 'system')!.id;
	// Started without a range, as ssd would.
	const plain = await own.startKernel({ environment: system, kind: 'ipykernel' });
	const fitting = await own.startKernel({ environment: system, kind: 'spyder' });
	const listed = await bridge.connection.sendRequest(KernelListRequest.type, { session });
	conforms(t, KernelListRequest.result, listed);
	const view = (id: string) => listed.kernels.find((kernel) => kernel.id === id)!;
	t.true(view(fitting.id).usable);
	t.false(view(plain.id).usable);
	t.is(view(plain.id).reason, 'not a Spyder kernel (started as ipykernel); Spyder 5.4 needs spyder-kernels');

	const refused = await failure(bridge.connection.sendRequest(KernelAttachRequest.type, { session, id: plain.id }));
	t.is(refused.code, BridgeErrorCodes.KernelIncompatible);
	t.is(refused.message, `Spyder cannot open a console on kernel ${plain.id}: not a Spyder kernel (started as ipykernel); Spyder 5.4 needs spyder-kernels.`);
	const opened = await bridge.connection.sendRequest(KernelAttachRequest.type, { session, id: fitting.id });
	t.is(opened.kernel.id, fitting.id);
	for (const kernel of [plain, fitting]) await own.shutdownKernel(kernel.id);
	await own.close();
	bridge.process.stdin!.end();
});

test('when its stdin closes the bridge detaches: kernels keep running unless Spyder asked to stop them', async (t) => {
	const detaching = await startBridge();
	const first = await loggedIn(detaching);
	const kept = await detaching.connection.sendRequest(KernelStartRequest.type, { session: first, environment: await systemEnvironment(detaching, first) });
	const connection = JSON.parse(await readFile(kept.connectionFile, 'utf8')) as { ip: string; key: string };
	t.is(connection.ip, '127.0.0.1');
	t.is(connection.key, kept.kernel.connection.key);
	t.is(kept.displayName, `${alice.name}@lab/python3`);
	conforms(t, KernelStartRequest.result, kept);
	detaching.process.stdin!.end();
	t.is(await detaching.exited, 0);
	await t.throwsAsync(stat(kept.connectionFile), undefined, 'the connection file goes with the forwarder');

	const stopping = await startBridge({ stopKernelsOnExit: true });
	const second = await loggedIn(stopping);
	const stopped = await stopping.connection.sendRequest(KernelStartRequest.type, { session: second, environment: await systemEnvironment(stopping, second) });
	stopping.process.stdin!.end();
	t.is(await stopping.exited, 0);

	const session = await ownSession();
	const running = (await session.listKernels()).map((kernel) => kernel.id);
	t.true(running.includes(kept.kernel.id), 'detached, still running');
	t.false(running.includes(stopped.kernel.id), 'stopped on exit, as asked');
	await session.shutdownKernel(kept.kernel.id);
	await session.close();
});

test('a restart by any client is followed: the forwarder moves to the new comm port, then the plugin hears of it', async (t) => {
	const bridge = await startBridge();
	const restarts: KernelDidRestartParams[] = [];
	const exits: KernelDidExitParams[] = [];
	bridge.connection.onNotification(KernelDidRestartNotification.type, (params) => void restarts.push(params));
	bridge.connection.onNotification(KernelDidExitNotification.type, (params) => void exits.push(params));
	const session = await loggedIn(bridge);
	const opened = await bridge.connection.sendRequest(KernelStartRequest.type, { session, environment: await systemEnvironment(bridge, session) });
	const other = await ownSession();
	t.teardown(async () => {
		await other.shutdownKernel(opened.kernel.id).catch(() => undefined);
		await other.close();
		bridge.process.stdin!.end();
	});
	const restarted = await other.restartKernel(opened.kernel.id);
	const deadline = Date.now() + 20_000;
	const ownRestart = () => restarts.find((restart) => restart.kernel.id === opened.kernel.id);
	while (!ownRestart() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
	t.is(ownRestart()?.kernel.commPort, restarted.commPort);
	// The bridge hears of every kernel of the user, and other tests of this file use the same user: only this kernel's exits count.
	const ownExits = exits.filter((exit) => exit.id === opened.kernel.id);
	t.deepEqual(
		ownExits.map((exit) => exit.expected),
		[true],
		'the exit within a restart is expected',
	);
	conforms(t, KernelDidRestartNotification.params, ownRestart());
	conforms(t, KernelDidExitNotification.params, ownExits[0]);
	// The comm port the kernel announces after the restart answers through this bridge's forwarder.
	const comm = await ZmtpSocket.connect({ host: '127.0.0.1', port: restarted.commPort! }, 'DEALER', { handshakeTimeoutMs: 10_000 });
	comm.close();
});

async function systemEnvironment(bridge: Bridge, session: string): Promise<string> {
	const { environments } = await bridge.connection.sendRequest(EnvironmentListRequest.type, { session });
	return environments.find((environment) => environment.kind === 'system' && environment.usable)!.id;
}
