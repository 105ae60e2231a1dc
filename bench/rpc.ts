/**
 * RPC bench: latency and throughput of a trivial authenticated request
 * (`session/ping`) through the real path — TLS 1.3 to ssd-server, relayed
 * over a unix socket to the user's session host — against raw vscode-jsonrpc
 * over loopback TCP, plus the cost of connect + TLS + initialize + key login.
 *
 *   node --import=tsx bench/rpc.ts        (build first: npx tsc -b)
 *
 * Prints one JSON object on stdout; progress goes to stderr. Everything
 * listens on 127.0.0.1 (or a unix socket in a temp dir). A throwaway ed25519
 * key is added to the current user's authorized_keys for the duration and
 * removed again (the file's previous content is restored exactly).
 *
 * Environment knobs: BENCH_ROUNDS (default 8), BENCH_CONNECTS (default 15),
 * BENCH_CLIENTS (default 200), BENCH_SCALE (multiplies every per-round count
 * and duration, default 1).
 */
import { readFileSync, rmdirSync, unlinkSync, writeFileSync } from 'node:fs';
import { appendFile, lstat, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { connect as netConnect, type Socket } from 'node:net';
import { createPrivateKey, createPublicKey, sign as cryptoSign, verify as cryptoVerify } from 'node:crypto';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { execa } from 'execa';
import nacl from 'tweetnacl';
import { createMessageConnection, SocketMessageReader, SocketMessageWriter, type MessageConnection } from 'vscode-jsonrpc/node';
import { RemoteSession } from '@spyder-remote/client';
import { createProtocolConnection } from '@spyder-remote/protocol/node';
import { createLogger, resolveConfig, startServer, type RunningServer } from '@spyder-remote/server';
import { keepInFlight, openMany } from './helpers/clients.js';
import { childRunning, cpuMs, descendants, spawnHelper, stopChild } from './helpers/processes.js';
import { createBench, positive, type BenchRun } from './helpers/run-bench.js';
import { ascending, median, percentiles, round, spread } from './helpers/stats.js';

const HOST = '127.0.0.1';
const PING = 'session/ping';
const ALPN = 'spyder-remote/1';
const TARGET_P50_RATIO = 1.25;
const TARGET_THROUGHPUT64_RATIO = 0.8;
const TARGET_THROUGHPUT_CLIENTS_RATIO = 1.0;

const scale = positive(process.env.BENCH_SCALE, 1);
const ROUNDS = Math.round(positive(process.env.BENCH_ROUNDS, 8));
const CONNECTS = Math.round(positive(process.env.BENCH_CONNECTS, 15));
const WARMUP_PINGS = Math.round(1500 * scale);
const WARMUP_BURST_MS = 200 * scale;
const LATENCY_PINGS_PER_ROUND = Math.round(500 * scale);
const THROUGHPUT1_MS = 200 * scale;
const THROUGHPUT64_MS = 400 * scale;
const CLIENTS = Math.round(positive(process.env.BENCH_CLIENTS, 200));
const CLIENTS_MS = 400 * scale;
/** Logins at once while opening the clients: below the daemon's maxStartups (64), so none queue. */
const LOGINS_AT_ONCE = 16;

const { log, run } = createBench({ name: 'rpc', tmpPrefix: 'ssd-bench-', watchdogMs: 150_000 });

// ---------------------------------------------------------------- statistics

function latencySummary(samplesUs: number[]) {
	const sorted = ascending(samplesUs);
	return { ...percentiles(sorted), mean: round(sorted.reduce((sum, value) => sum + value, 0) / sorted.length) };
}

// ------------------------------------------------------------------ targets

interface Target {
	readonly name: string;
	readonly description: string;
	ping(): Promise<unknown>;
	close(): Promise<void> | void;
	/** Server-side processes whose CPU is also reported one by one (name → pid). */
	processes?: Record<string, number>;
}

function connectTcp(port: number): Promise<Socket> {
	return new Promise((resolve, reject) => {
		const socket = netConnect({ host: HOST, port, noDelay: true });
		socket.once('connect', () => {
			socket.off('error', reject);
			socket.setNoDelay(true);
			resolve(socket);
		});
		socket.once('error', reject);
	});
}

/**
 * The session host opens every connection with a greeting line, for the
 * daemon to check the host's secret in; the bench has no secret to check it
 * against and skips it. The host says nothing more until asked.
 */
function connectSessionHost(path: string): Promise<Socket> {
	return new Promise((resolve, reject) => {
		const socket = netConnect({ path });
		let greeting = Buffer.alloc(0);
		const onData = (chunk: Buffer) => {
			greeting = Buffer.concat([greeting, chunk]);
			if (!greeting.includes(0x0a)) return;
			socket.off('data', onData);
			socket.off('error', reject);
			resolve(socket);
		};
		socket.on('data', onData);
		socket.once('error', reject);
	});
}

function connectTls(port: number): Promise<TLSSocket> {
	return new Promise((resolve, reject) => {
		const socket = tlsConnect({ host: HOST, port, ALPNProtocols: [ALPN], minVersion: 'TLSv1.3', rejectUnauthorized: false });
		socket.setNoDelay(true);
		socket.once('secureConnect', () => {
			socket.off('error', reject);
			resolve(socket);
		});
		socket.once('error', reject);
	});
}

function rpcTarget(name: string, description: string, socket: Socket, connection: MessageConnection): Target {
	connection.listen();
	return {
		name,
		description,
		ping: () => connection.sendRequest(PING),
		close() {
			connection.dispose();
			socket.destroy();
		},
	};
}

async function stockTcpTarget(port: number): Promise<Target> {
	const socket = await connectTcp(port);
	const connection = createMessageConnection(new SocketMessageReader(socket), new SocketMessageWriter(socket));
	return rpcTarget(
		'baseline',
		'stock vscode-jsonrpc (SocketMessageReader/Writer) both ends, plain TCP, setNoDelay on both ends, server in a child process',
		socket,
		connection,
	);
}

async function framedTarget(name: string, description: string, socket: Socket): Promise<Target> {
	return rpcTarget(name, description, socket, createProtocolConnection(socket).connection);
}

function sessionTarget(name: string, description: string, session: RemoteSession): Target {
	return { name, description, ping: () => session.ping(), close: () => session.close() };
}

// -------------------------------------------------------------------- CPU

/** CPU time so far (ms) of this process and, summed, of all its descendants (servers, session hosts, the child daemon). */
function cpuSnapshot(): { self: number; others: number } {
	const usage = process.cpuUsage();
	return { self: (usage.user + usage.system) / 1000, others: descendants(process.pid).reduce((sum, pid) => sum + cpuMs(pid), 0) };
}

// ------------------------------------------------------------- measurements

async function latencyBlock(target: Target, count: number, samplesUs: number[]): Promise<void> {
	for (let i = 0; i < count; i++) {
		const start = process.hrtime.bigint();
		await target.ping();
		samplesUs.push(Number(process.hrtime.bigint() - start) / 1000);
	}
}

/** Completed requests per second with `inflight` requests kept outstanding for `durationMs`. */
function throughputBlock(target: Target, inflight: number, durationMs: number): Promise<number> {
	return keepInFlight(
		Array.from({ length: inflight }, () => () => target.ping()),
		durationMs,
	);
}

interface TargetResult {
	latencyUs: number[];
	throughput1: number[];
	throughput64: number[];
	/** CPU (ms) used during the 64-in-flight blocks, and their wall time. */
	cpu64: { self: number; others: number; wallMs: number; requests: number };
	/** CPU (ms) during the same blocks of each of the target's `processes`. */
	cpu64ByProcess: Record<string, number>;
}

async function measureTargets(targets: Target[]): Promise<Map<string, TargetResult>> {
	const results = new Map<string, TargetResult>(
		targets.map((target) => [
			target.name,
			{ latencyUs: [], throughput1: [], throughput64: [], cpu64: { self: 0, others: 0, wallMs: 0, requests: 0 }, cpu64ByProcess: {} },
		]),
	);
	for (const target of targets) {
		await latencyBlock(target, WARMUP_PINGS, []);
		await throughputBlock(target, 64, WARMUP_BURST_MS);
	}
	// Rounds interleave the targets (rotating who goes first) so that drift in
	// machine load hits all of them alike.
	for (let r = 0; r < ROUNDS; r++) {
		log(`round ${r + 1}/${ROUNDS}`);
		for (let k = 0; k < targets.length; k++) {
			const target = targets[(k + r) % targets.length]!;
			const result = results.get(target.name)!;
			await latencyBlock(target, LATENCY_PINGS_PER_ROUND, result.latencyUs);
			result.throughput1.push(await throughputBlock(target, 1, THROUGHPUT1_MS));
			const processes = Object.entries(target.processes ?? {});
			const processesBefore = processes.map(([, pid]) => cpuMs(pid));
			const before = cpuSnapshot();
			const wallStart = performance.now();
			const rate = await throughputBlock(target, 64, THROUGHPUT64_MS);
			const after = cpuSnapshot();
			processes.forEach(([name, pid], i) => (result.cpu64ByProcess[name] = (result.cpu64ByProcess[name] ?? 0) + cpuMs(pid) - processesBefore[i]!));
			const wallMs = performance.now() - wallStart;
			result.throughput64.push(rate);
			result.cpu64.requests += (rate * wallMs) / 1000;
			result.cpu64.wallMs += wallMs;
			result.cpu64.self += after.self - before.self;
			result.cpu64.others += after.others - before.others;
		}
	}
	return results;
}

/** Many connections to one server, each keeping one request in flight. */
interface ClientGroup {
	readonly name: string;
	readonly pings: readonly (() => Promise<unknown>)[];
	/** The server's processes (name → pid), whose CPU is reported per request. */
	readonly processes: Record<string, number>;
}

/** Interleaved rounds as in measureTargets: per group, requests/s of each round and CPU (ms) per process over all rounds. */
async function measureClientGroups(groups: ClientGroup[]) {
	const results = new Map(groups.map((group) => [group.name, { throughput: [] as number[], requests: 0, benchCpuMs: 0, cpuMs: {} as Record<string, number> }]));
	for (const group of groups) await keepInFlight(group.pings, WARMUP_BURST_MS);
	for (let r = 0; r < ROUNDS; r++) {
		for (let k = 0; k < groups.length; k++) {
			const group = groups[(k + r) % groups.length]!;
			const result = results.get(group.name)!;
			const processes = Object.entries(group.processes);
			const before = processes.map(([, pid]) => cpuMs(pid));
			const benchBefore = process.cpuUsage();
			const start = performance.now();
			const rate = await keepInFlight(group.pings, CLIENTS_MS);
			result.requests += (rate * (performance.now() - start)) / 1000;
			const bench = process.cpuUsage(benchBefore);
			result.benchCpuMs += (bench.user + bench.system) / 1000;
			processes.forEach(([name, pid], i) => (result.cpuMs[name] = (result.cpuMs[name] ?? 0) + cpuMs(pid) - before[i]!));
			result.throughput.push(rate);
		}
	}
	return results;
}

const ms = (start: number) => performance.now() - start;

/** TCP connect and TCP + TLS 1.3 handshake times of one raw TLS connection to the daemon. */
function tlsHandshakeTimes(port: number): Promise<{ tcpMs: number; tlsMs: number }> {
	return new Promise((resolve, reject) => {
		const start = performance.now();
		let tcpMs = NaN;
		const socket = tlsConnect({ host: HOST, port, ALPNProtocols: [ALPN], minVersion: 'TLSv1.3', rejectUnauthorized: false });
		socket.setNoDelay(true);
		socket.once('connect', () => (tcpMs = ms(start)));
		socket.once('secureConnect', () => {
			const tlsMs = ms(start);
			socket.destroy();
			resolve({ tcpMs, tlsMs });
		});
		socket.once('error', reject);
	});
}

async function measureConnects(daemon: RunningServer, keyPair: nacl.SignKeyPair, user: string, baselinePort: number) {
	const parts = {
		tcpConnect: [] as number[],
		tcpTlsHandshake: [] as number[],
		connectTlsInitialize: [] as number[],
		keyLogin: [] as number[],
		firstPing: [] as number[],
		total: [] as number[],
	};
	const baseline = { tcpConnect: [] as number[], tcpConnectFirstRequest: [] as number[] };
	const getent: number[] = [];
	const naclVerify: number[] = [];
	const naclSign: number[] = [];
	const nativeSign: number[] = [];
	const nativeVerify: number[] = [];
	const b64url = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64url');
	const nativePrivate = createPrivateKey({
		key: { kty: 'OKP', crv: 'Ed25519', d: b64url(keyPair.secretKey.subarray(0, 32)), x: b64url(keyPair.publicKey) },
		format: 'jwk',
	});
	for (let i = 0; i < CONNECTS; i++) {
		const handshake = await tlsHandshakeTimes(daemon.port);
		parts.tcpConnect.push(handshake.tcpMs);
		parts.tcpTlsHandshake.push(handshake.tlsMs);

		const t0 = performance.now();
		const session = await RemoteSession.connect({
			host: HOST,
			port: daemon.port,
			fingerprint: daemon.fingerprint,
			knownHosts: false,
			connectTimeoutMs: 10_000,
		});
		const t1 = performance.now();
		await session.loginWithKey(user, keyPair);
		const t2 = performance.now();
		await session.ping();
		const t3 = performance.now();
		parts.connectTlsInitialize.push(t1 - t0);
		parts.keyLogin.push(t2 - t1);
		parts.firstPing.push(t3 - t2);
		parts.total.push(t2 - t0);
		await session.close();

		const b0 = performance.now();
		const socket = await connectTcp(baselinePort);
		const b1 = performance.now();
		const connection = createMessageConnection(new SocketMessageReader(socket), new SocketMessageWriter(socket));
		connection.listen();
		await connection.sendRequest(PING);
		baseline.tcpConnect.push(b1 - b0);
		baseline.tcpConnectFirstRequest.push(performance.now() - b0);
		connection.dispose();
		socket.destroy();

		// What one key login costs the daemon besides round trips: an account
		// lookup (it spawns getent through execa) and a pure-JS ed25519 verify.
		const g0 = performance.now();
		await execa('getent', ['passwd', '--', user], { reject: false, timeout: 10_000 });
		getent.push(ms(g0));
		const payload = new Uint8Array(200).fill(i);
		const s0 = performance.now();
		const signature = nacl.sign.detached(payload, keyPair.secretKey);
		naclSign.push(ms(s0));
		const v0 = performance.now();
		nacl.sign.detached.verify(payload, signature, keyPair.publicKey);
		naclVerify.push(ms(v0));
		// The same with node:crypto (OpenSSL), public key import included in the verify.
		const n0 = performance.now();
		const nativeSignature = cryptoSign(null, payload, nativePrivate);
		nativeSign.push(ms(n0));
		const n1 = performance.now();
		cryptoVerify(null, payload, createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: b64url(keyPair.publicKey) }, format: 'jwk' }), nativeSignature);
		nativeVerify.push(ms(n1));
	}
	const medians = (record: Record<string, number[]>) => Object.fromEntries(Object.entries(record).map(([key, values]) => [key, round(median(values), 2)]));
	const partMedians = medians(parts);
	return {
		n: CONNECTS,
		oursMedianMs: {
			...partMedians,
			tlsHandshakeOnly: round(median(parts.tcpTlsHandshake) - median(parts.tcpConnect), 2),
			initializeEstimate: round(median(parts.connectTlsInitialize) - median(parts.tcpTlsHandshake), 2),
		},
		baselineMedianMs: medians(baseline),
		loginInternalsMedianMs: {
			getentSpawnViaExeca: round(median(getent), 2),
			tweetnaclSign: round(median(naclSign), 2),
			tweetnaclVerify: round(median(naclVerify), 2),
			nodeCryptoSign: round(median(nativeSign), 3),
			nodeCryptoVerify: round(median(nativeVerify), 3),
		},
		notes:
			'total = connectTlsInitialize + keyLogin (TCP + TLS + certificate pin check + initialize + challenge + signed login + relay setup); ' +
			'tcpConnect/tcpTlsHandshake come from separate raw TLS connections to the daemon; initializeEstimate = connectTlsInitialize - tcpTlsHandshake',
	};
}

// ------------------------------------------------------- authorized_keys

interface KeyInstall {
	readonly file: string;
	readonly line: string;
	readonly previous: string | undefined;
	readonly createdDirs: string[];
	restored: boolean;
}

async function installKey(home: string, publicKey: string): Promise<KeyInstall> {
	const configDir = join(home, '.config');
	const keyDir = join(configDir, 'spyder-remote');
	const file = join(keyDir, 'authorized_keys');
	const createdDirs: string[] = [];
	for (const dir of [configDir, keyDir]) {
		const stat = await lstat(dir).catch(() => undefined);
		if (!stat) {
			await mkdir(dir, { mode: 0o700 });
			createdDirs.push(dir);
		}
	}
	const previous = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
		if (error.code === 'ENOENT') return undefined;
		throw error;
	});
	const line = `ed25519 ${publicKey} spyder-remote-bench-${process.pid}\n`;
	const install: KeyInstall = { file, line, previous, createdDirs, restored: false };
	if (previous === undefined) await writeFile(file, line, { mode: 0o600, flag: 'wx' });
	else await appendFile(file, previous.length > 0 && !previous.endsWith('\n') ? `\n${line}` : line);
	return install;
}

/** Synchronous, so it can run from a signal handler or 'exit' and finish before the process does. */
function removeKey(install: KeyInstall): void {
	if (install.restored) return;
	install.restored = true;
	let current: string | undefined;
	try {
		current = readFileSync(install.file, 'utf8');
	} catch {
		current = undefined;
	}
	if (current !== undefined) {
		const separator = install.previous && !install.previous.endsWith('\n') ? '\n' : '';
		if (install.previous === undefined && current === install.line) unlinkSync(install.file);
		else if (install.previous !== undefined && current === install.previous + separator + install.line) writeFileSync(install.file, install.previous);
		// Someone else changed the file meanwhile: take out our line only.
		else
			writeFileSync(
				install.file,
				current
					.split('\n')
					.filter((text) => `${text}\n` !== install.line)
					.join('\n'),
			);
	}
	for (const dir of [...install.createdDirs].reverse()) {
		try {
			rmdirSync(dir);
		} catch {
			// Not empty any more: someone else uses it now.
		}
	}
}

// ------------------------------------------------------------- children

/** The session host's unix socket in the daemon's runtimeDir (its name is the daemon's business: take the newest *.sock). */
async function sessionHostSocket(runtimeDir: string): Promise<string> {
	const sockets: { path: string; mtime: number }[] = [];
	for (const name of await readdir(runtimeDir)) {
		const path = join(runtimeDir, name);
		const stat = await lstat(path);
		if (stat.isSocket()) sockets.push({ path, mtime: stat.mtimeMs });
	}
	if (sockets.length === 0) throw new Error(`no session host socket in ${runtimeDir}`);
	return sockets.sort((a, b) => b.mtime - a.mtime)[0]!.path;
}

// ------------------------------------------------------------------ main

async function main({ tmp, cleanups, atExit, atSignal, machine }: BenchRun): Promise<Record<string, unknown>> {
	const account = userInfo();
	let install: KeyInstall | undefined;
	// The key line never outlives the process, nor waits on a signal for the slower cleanup steps.
	const removeInstalledKey = () => install && removeKey(install);
	atExit(removeInstalledKey);
	atSignal(removeInstalledKey);

	const keyPair = nacl.sign.keyPair();
	install = await installKey(account.homedir, Buffer.from(keyPair.publicKey).toString('base64'));
	const installed = install;
	cleanups.push(() => removeKey(installed));

	// Personal mode serves only this account; root (uid 0) also needs auth.permitRoot. Loopback only.
	const config = resolveConfig({
		mode: 'personal',
		listen: { host: HOST, port: 0 },
		stateDir: join(tmp, 'state'),
		runtimeDir: join(tmp, 'run'),
		auth: { permitRoot: account.uid === 0 },
		logLevel: 'warn',
	});
	const daemon = await startServer(config, createLogger('warn'));
	cleanups.push(() => daemon.close());
	log(`in-process ssd-server on ${daemon.host}:${daemon.port}`);

	const echo = await spawnHelper('echo-server.mjs', [join(tmp, 'state', 'server.crt'), join(tmp, 'state', 'server.key')]);
	cleanups.push(() => stopChild(echo.child));
	const ports = echo.info as { stockTcp: number; framedTcp: number; framedTls: number };

	const childDaemon = await spawnHelper('daemon.mjs', ['personal', join(tmp, 'state2'), join(tmp, 'run2')]);
	cleanups.push(() => stopChild(childDaemon.child));
	const child = childDaemon.info as { port: number; fingerprint: string };

	// The first login starts the session host: a one-off cost, measured once.
	const c0 = performance.now();
	const session = await RemoteSession.connect({ host: HOST, port: daemon.port, fingerprint: daemon.fingerprint, knownHosts: false });
	const c1 = performance.now();
	await session.loginWithKey(account.username, keyPair);
	const coldLoginMs = ms(c1);
	const coldTotalMs = ms(c0);
	const session2 = await RemoteSession.connect({ host: HOST, port: child.port, fingerprint: child.fingerprint, knownHosts: false });
	await session2.loginWithKey(account.username, keyPair);

	const echoServer = { server: echo.child.pid! };
	const childDaemonProcesses = { daemon: childDaemon.child.pid!, sessionHost: childRunning(childDaemon.child.pid!, 'session-host')! };
	const targets: Target[] = [
		{ ...(await stockTcpTarget(ports.stockTcp)), processes: echoServer },
		{
			...(await framedTarget(
				'framedTcp',
				'@spyder-remote/protocol createProtocolConnection both ends, plain TCP, server in a child process (our framing, no TLS, no relay)',
				await connectTcp(ports.framedTcp),
			)),
			processes: echoServer,
		},
		{
			...(await framedTarget(
				'tlsDirect',
				'our framing over TLS 1.3 (same certificate), server in a child process, no relay',
				await connectTls(ports.framedTls),
			)),
			processes: echoServer,
		},
		await framedTarget(
			'sessionHostUnix',
			"our framing straight to the real session host's unix socket (no TLS, no daemon)",
			await connectSessionHost(await sessionHostSocket(join(tmp, 'run'))),
		),
		sessionTarget(
			'ours',
			'RemoteSession.ping(): TLS 1.3 to the in-process ssd-server, relayed over a unix socket to the session host (child process)',
			session,
		),
		{
			...sessionTarget('oursDaemonInChild', 'the same, with ssd-server in its own child process instead of sharing the bench process', session2),
			processes: childDaemonProcesses,
		},
	];
	cleanups.push(async () => {
		for (const target of targets) await target.close();
	});
	log(`measuring ${targets.length} targets, ${ROUNDS} interleaved rounds`);
	const results = await measureTargets(targets);

	// The scale figure: many clients, each on its own connection with one request in flight.
	log(`opening ${CLIENTS} logged-in sessions and ${CLIENTS} stock TCP connections`);
	const closeSessions = (sessions: RemoteSession[]) => Promise.allSettled(sessions.map((each) => each.close()));
	const manySessions = await openMany(
		CLIENTS,
		LOGINS_AT_ONCE,
		async () => {
			const each = await RemoteSession.connect({ host: HOST, port: child.port, fingerprint: child.fingerprint, knownHosts: false, connectTimeoutMs: 10_000 });
			await each.loginWithKey(account.username, keyPair).catch((error: unknown) => {
				each.destroy();
				throw error;
			});
			return each;
		},
		closeSessions,
	);
	cleanups.push(async () => void (await closeSessions(manySessions)));
	const closeTargets = (opened: Target[]) => Promise.allSettled(opened.map((each) => each.close()));
	const manyStock = await openMany(CLIENTS, LOGINS_AT_ONCE, () => stockTcpTarget(ports.stockTcp), closeTargets);
	cleanups.push(async () => void (await closeTargets(manyStock)));
	log(`measuring ${CLIENTS} clients, ${ROUNDS} interleaved rounds`);
	const clientGroups = await measureClientGroups([
		{ name: 'baseline', pings: manyStock.map((each) => () => each.ping()), processes: echoServer },
		{ name: 'oursDaemonInChild', pings: manySessions.map((each) => () => each.ping()), processes: childDaemonProcesses },
	]);
	await closeSessions(manySessions.splice(0));
	await closeTargets(manyStock.splice(0));

	log(`measuring connect + login, ${CONNECTS} times`);
	const connect = await measureConnects(daemon, keyPair, account.username, ports.stockTcp);

	/** CPU time of all processes involved, per completed request, during the 64-in-flight blocks. */
	const cpuPerRequestOf = (result: TargetResult) => round((1000 * (result.cpu64.self + result.cpu64.others)) / result.cpu64.requests);
	const summaries = Object.fromEntries(
		targets.map((target) => {
			const result = results.get(target.name)!;
			return [
				target.name,
				{
					description: target.description,
					latencyUs: latencySummary(result.latencyUs),
					throughputRps: { inflight1: spread(result.throughput1, 0), inflight64: spread(result.throughput64, 0) },
					cpuDuringInflight64: {
						benchProcessPct: Math.round((100 * result.cpu64.self) / result.cpu64.wallMs),
						childProcessesPct: Math.round((100 * result.cpu64.others) / result.cpu64.wallMs),
						usPerRequest: cpuPerRequestOf(result),
						serverUsPerRequest: Object.fromEntries(
							Object.entries(result.cpu64ByProcess).map(([name, cpu]) => [name, round((1000 * cpu) / result.cpu64.requests)]),
						),
					},
				},
			];
		}),
	);
	const base = results.get('baseline')!;
	const compare = (name: string) => {
		const ours = results.get(name)!;
		const oursLatency = latencySummary(ours.latencyUs);
		const baseLatency = latencySummary(base.latencyUs);
		const t1 = median(ours.throughput1) / median(base.throughput1);
		const t64 = median(ours.throughput64) / median(base.throughput64);
		const pairedT64 = median(ours.throughput64.map((value, i) => value / base.throughput64[i]!));
		return {
			latency: {
				oursP50Us: oursLatency.p50,
				baselineP50Us: baseLatency.p50,
				p50Ratio: round(oursLatency.p50 / baseLatency.p50, 3),
				oursP99Us: oursLatency.p99,
				baselineP99Us: baseLatency.p99,
				p99Ratio: round(oursLatency.p99 / baseLatency.p99, 3),
			},
			throughput: {
				inflight1: { oursRps: Math.round(median(ours.throughput1)), baselineRps: Math.round(median(base.throughput1)), ratio: round(t1, 3) },
				inflight64: {
					oursRps: Math.round(median(ours.throughput64)),
					baselineRps: Math.round(median(base.throughput64)),
					ratio: round(t64, 3),
					pairedRoundRatioMedian: round(pairedT64, 3),
				},
			},
			cpuUsPerRequestAt64: { ours: cpuPerRequestOf(ours), baseline: cpuPerRequestOf(base), ratio: round(cpuPerRequestOf(ours) / cpuPerRequestOf(base), 3) },
			targets: {
				p50Ratio: { limit: TARGET_P50_RATIO, value: round(oursLatency.p50 / baseLatency.p50, 3), pass: oursLatency.p50 <= TARGET_P50_RATIO * baseLatency.p50 },
				throughput64Ratio: { limit: TARGET_THROUGHPUT64_RATIO, value: round(t64, 3), pass: t64 >= TARGET_THROUGHPUT64_RATIO },
			},
		};
	};
	const primary = compare('ours');
	const clientsSummary = Object.fromEntries(
		[...clientGroups].map(([name, result]) => {
			const perRequest = (cpu: number) => round((1000 * cpu) / result.requests);
			const server = Object.values(result.cpuMs).reduce((sum, cpu) => sum + cpu, 0);
			return [
				name,
				{
					throughputRps: spread(result.throughput, 0),
					serverCpuUsPerRequest: {
						...Object.fromEntries(Object.entries(result.cpuMs).map(([part, cpu]) => [part, perRequest(cpu)])),
						total: perRequest(server),
					},
					benchProcessCpuUsPerRequest: perRequest(result.benchCpuMs),
				},
			];
		}),
	);
	const clientsOurs = clientGroups.get('oursDaemonInChild')!;
	const clientsBase = clientGroups.get('baseline')!;
	const clientsRatio = median(clientsOurs.throughput) / median(clientsBase.throughput);
	const manyClients = {
		description: `${CLIENTS} clients, each on its own connection with 1 request in flight, ${CLIENTS_MS} ms per round: logged-in RemoteSessions to the ssd-server in its own process vs stock vscode-jsonrpc TCP connections; the clients all live in the bench process`,
		clients: CLIENTS,
		...clientsSummary,
		throughputRatio: round(clientsRatio, 3),
		pairedRoundRatioMedian: round(median(clientsOurs.throughput.map((value, i) => value / clientsBase.throughput[i]!)), 3),
		serverCpuPerRequestRatio: round(clientsSummary.oursDaemonInChild!.serverCpuUsPerRequest.total / clientsSummary.baseline!.serverCpuUsPerRequest.total, 3),
	};
	return {
		primary:
			"'ours': ssd-server in the bench process (as the client's peer), session host in its own process; 'daemonInChild' repeats the comparison with ssd-server in its own process",
		environment: machine({ user: account.username }),
		parameters: {
			rounds: ROUNDS,
			warmupPings: WARMUP_PINGS,
			latencyPingsPerRound: LATENCY_PINGS_PER_ROUND,
			throughput1MsPerRound: THROUGHPUT1_MS,
			throughput64MsPerRound: THROUGHPUT64_MS,
			clients: CLIENTS,
			clientsMsPerRound: CLIENTS_MS,
			connects: CONNECTS,
		},
		latency: primary.latency,
		throughput: primary.throughput,
		targets: {
			...primary.targets,
			throughput200ClientsRatio: {
				limit: TARGET_THROUGHPUT_CLIENTS_RATIO,
				value: manyClients.throughputRatio,
				pass: clientsRatio >= TARGET_THROUGHPUT_CLIENTS_RATIO,
				clients: CLIENTS,
			},
		},
		daemonInChild: compare('oursDaemonInChild'),
		manyClients,
		connect: {
			...connect,
			coldFirstLoginMs: { connectTlsInitialize: round(c1 - c0, 2), keyLoginIncludingSessionHostStart: round(coldLoginMs, 2), total: round(coldTotalMs, 2) },
		},
		breakdown: summaries,
	};
}

await run(main);
