/**
 * Kernels bench: what the kernel path costs compared with doing without it.
 *
 *   node --import=tsx bench/kernels.ts       (build first: npx tsc -b; needs root)
 *
 * 1. Start-up: `kernel/start` → KernelForwarder.open → KernelClient.connect on
 *    the connection file → waitReady → execute('1+1') reply, against launching
 *    the same kernel here (same python, same `kernelArguments`, as the same
 *    user with the same reset environment, ipc connection file in a temp dir)
 *    and connecting to its Unix sockets directly. Both kinds, interleaved.
 * 2. Transport: small-message round trips (heartbeat echo, execute('pass'))
 *    and bulk transfer (IOPub stream output of a print loop; large heartbeat
 *    echoes) through the forwarder, straight to the same kernel's Unix
 *    sockets, through OpenSSH `ssh -L` to the same Unix sockets, to a second
 *    kernel on loopback TCP, and through `ssh -L` to that TCP kernel.
 *
 * Prints one JSON object on stdout; progress goes to stderr. Everything runs
 * on 127.0.0.1 or Unix sockets in a temp dir: a throwaway OS user, an
 * ssd-server (system mode, discovery off) and the forwarder each in a child
 * process, a throwaway sshd on a spare loopback port with throwaway keys.
 * All of it is removed at the end, also on error, SIGINT/SIGTERM and the
 * watchdog.
 *
 * Knobs: BENCH_KERNEL_STARTS (5 per kind and side), BENCH_KERNEL_KINDS
 * (spyder,ipykernel), BENCH_ROUNDS (4), BENCH_BULK_MB (50), BENCH_HB_PINGS
 * (400 per round), BENCH_EXEC_PINGS (100 per round), BENCH_WARM_STARTS (3 per
 * kind), BENCH_KERNEL_STARTUP_ONLY (set: measure 1. only, as bench/kernels-debian.ts
 * does in each Debian root).
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, rmdirSync } from 'node:fs';
import { chmod, chown, mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, connect as netConnect, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { KernelClient, type ConnectionInfo } from '../server/src/session-host/kernels/kernel-client.js';
import { kernelArguments } from '../server/src/common/kernel-launcher.js';
import { ZmtpSocket, type ZmtpEndpoint } from '../server/src/session-host/kernels/zmtp.js';
import { createTestUser, deleteTestUser, type TestUser } from '../test/helpers/os-users.js';
import { childPids, children, cpuMs, descendants, killNow, spawnHelper, spawnScript, stopChild, track } from './helpers/processes.js';
import { createBench, positive, type BenchRun } from './helpers/run-bench.js';
import { ascending, median, percentiles, round, spread } from './helpers/stats.js';

const HOST = '127.0.0.1';
const TARGET_STARTUP_RATIO = 1.15;
const TARGET_THROUGHPUT_VS_SSH = 1.5;
const TARGET_ROUND_TRIP_VS_SSH = 1.0;
const TARGET_WARM_READY_MS = 200;

const STARTS = Math.round(positive(process.env.BENCH_KERNEL_STARTS, 5));
const KINDS = (process.env.BENCH_KERNEL_KINDS ?? 'spyder,ipykernel').split(',').filter((kind): kind is Kind => kind === 'spyder' || kind === 'ipykernel');
const ROUNDS = Math.round(positive(process.env.BENCH_ROUNDS, 4));
const BULK_MB = Math.round(positive(process.env.BENCH_BULK_MB, 50));
const HB_PINGS = Math.round(positive(process.env.BENCH_HB_PINGS, 400));
const EXEC_PINGS = Math.round(positive(process.env.BENCH_EXEC_PINGS, 100));
const WARM_STARTS = Math.round(positive(process.env.BENCH_WARM_STARTS, 3));
const STARTUP_ONLY = Boolean(process.env.BENCH_KERNEL_STARTUP_ONLY);
/** Before each warm start: time for the pool to replace the kernel the previous start took. */
const WARM_REFILL_MS = 3_000;
/** Heartbeat echo bulk: 1 MB messages, this many in flight. */
const HB_BULK_WINDOW = 4;
/** Soft budgets (s since start): a repetition / round is begun only if, at the pace of the last one, it ends before these. */
const STARTUP_BUDGET_S = 75;
const ROUNDS_BUDGET_S = 160;
/** Hard limit: everything is cleaned up and the run abandoned past this (the brief: under 3 minutes). */
const WATCHDOG_MS = 172_000;

type Kind = 'spyder' | 'ipykernel';
const modules: Record<Kind, 'spyder_kernels.console' | 'ipykernel_launcher'> = { spyder: 'spyder_kernels.console', ipykernel: 'ipykernel_launcher' };

const { log, elapsedS, run } = createBench({ name: 'kernels', tmpPrefix: 'ssd-bench-kern-', watchdogMs: WATCHDOG_MS });

// ---------------------------------------------------------------- statistics

function latencySummary(samples: number[], digits = 3) {
	const sorted = ascending(samples);
	return { ...percentiles(sorted, digits), max: round(sorted.at(-1) ?? NaN, digits) };
}

/** With the count: the time budgets may cut the rounds and start-ups short. */
function counted(values: number[], digits = 1) {
	return { ...spread(values, digits), n: values.length };
}

// ------------------------------------------------------------- processes

/** The forwarder helper: JSON commands in, JSON answers out, matched by seq. */
class ForwarderProcess {
	private seq = 0;
	private readonly pending = new Map<number, { resolve: (value: any) => void; reject: (error: Error) => void }>();

	private constructor(readonly child: ChildProcess) {
		createInterface({ input: child.stdout! }).on('line', (line) => {
			const message = JSON.parse(line) as { seq: number; ok: boolean; error?: string };
			const waiter = this.pending.get(message.seq);
			this.pending.delete(message.seq);
			if (message.ok) waiter?.resolve(message);
			else waiter?.reject(new Error(`forwarder helper: ${message.error}`));
		});
		child.once('exit', (code, signal) => {
			for (const waiter of this.pending.values()) waiter.reject(new Error(`forwarder helper exited (${signal ?? code})`));
			this.pending.clear();
		});
	}

	static start(): ForwarderProcess {
		return new ForwarderProcess(spawnScript('kernel-forwarder.mjs'));
	}

	call(command: Record<string, unknown>): Promise<any> {
		const seq = ++this.seq;
		return new Promise((resolve, reject) => {
			this.pending.set(seq, { resolve, reject });
			this.child.stdin!.write(`${JSON.stringify({ seq, ...command })}\n`);
		});
	}
}

// --------------------------------------------------------------- helpers

function freePort(): Promise<number> {
	return new Promise((resolve, reject) => {
		const server = createServer();
		server.once('error', reject);
		server.listen(0, HOST, () => {
			const { port } = server.address() as AddressInfo;
			server.close(() => resolve(port));
		});
	});
}

function endpointOf(info: ConnectionInfo, port: number): ZmtpEndpoint {
	return info.transport === 'ipc' ? { path: `${info.ip}-${port}` } : { host: info.ip, port };
}

/** The kernel's heartbeat (a ZMQ ROUTER echoing every message back, in C, without the GIL): a transport-only round trip. */
class Echo {
	private readonly waiting: ((frames: Buffer[]) => void)[] = [];

	private constructor(private readonly socket: ZmtpSocket) {
		socket.onMessage((frames) => this.waiting.shift()?.(frames));
	}

	static async open(endpoint: ZmtpEndpoint): Promise<Echo> {
		return new Echo(await ZmtpSocket.connect(endpoint, 'DEALER', { handshakeTimeoutMs: 10_000 }));
	}

	ping(payload: Buffer): Promise<Buffer[]> {
		return new Promise((resolve) => {
			this.waiting.push(resolve);
			this.socket.send([payload]);
		});
	}

	close(): void {
		this.socket.close();
	}
}

// ------------------------------------------------------------------ kernels

interface LocalKernel {
	readonly kind: Kind;
	readonly child: ChildProcess;
	readonly info: ConnectionInfo;
	readonly directory: string;
	readonly stderrTail: string[];
}

interface Context {
	readonly tmp: string;
	readonly user: TestUser;
	python: string;
}

/**
 * The same kernel the server would start: same interpreter, same launcher
 * and module, run as the same user with setpriv --reset-env (as the session
 * host is) from the user's home, in a process group of its own.
 */
async function launchLocalKernel(ctx: Context, kind: Kind, transport: 'ipc' | 'tcp'): Promise<LocalKernel> {
	const directory = join(ctx.tmp, 'local', randomBytes(6).toString('hex'));
	await mkdir(directory, { mode: 0o700 });
	await chown(directory, ctx.user.uid, ctx.user.gid);
	const ports = transport === 'ipc' ? [1, 2, 3, 4, 5] : [await freePort(), await freePort(), await freePort(), await freePort(), await freePort()];
	const info = {
		transport,
		ip: transport === 'ipc' ? join(directory, 'kernel') : HOST,
		shell_port: ports[0]!,
		iopub_port: ports[1]!,
		stdin_port: ports[2]!,
		control_port: ports[3]!,
		hb_port: ports[4]!,
		key: randomBytes(32).toString('hex'),
		signature_scheme: 'hmac-sha256',
		kernel_name: kind === 'spyder' ? 'spyder-kernel' : 'python3',
	};
	const file = join(directory, 'connection.json');
	await writeFile(file, JSON.stringify(info), { mode: 0o600 });
	await chown(file, ctx.user.uid, ctx.user.gid);
	const setpriv = ['--reuid', String(ctx.user.uid), '--regid', String(ctx.user.gid), '--init-groups', '--reset-env', '--'];
	const child = track(
		spawn('setpriv', [...setpriv, ctx.python, ...kernelArguments(modules[kind], file)], {
			cwd: ctx.user.home,
			detached: true,
			stdio: ['ignore', 'ignore', 'pipe'],
		}),
		true,
	);
	const stderrTail: string[] = [];
	createInterface({ input: child.stderr! }).on('line', (line) => {
		stderrTail.push(line.slice(0, 500));
		if (stderrTail.length > 10) stderrTail.shift();
	});
	return { kind, child, info, directory, stderrTail };
}

async function stopLocalKernel(kernel: LocalKernel): Promise<void> {
	await stopChild(kernel.child, 'SIGKILL');
	await rm(kernel.directory, { recursive: true, force: true });
}

/** The server's own directory of a kernel (root may look): `<runtimeDir>/…/kernels/<id>`. */
async function findKernelDirectory(root: string, id: string, depth = 4): Promise<string | undefined> {
	if (depth === 0) return undefined;
	for (const entry of await readdir(root, { withFileTypes: true }).catch(() => [])) {
		if (!entry.isDirectory()) continue;
		const path = join(root, entry.name);
		if (entry.name === id) return path;
		const found = await findKernelDirectory(path, id, depth - 1);
		if (found) return found;
	}
	return undefined;
}

// --------------------------------------------------------------- start-up

interface StartSample {
	totalMs: number;
	parts: Record<string, number>;
}

async function remoteStart(forwarder: ForwarderProcess, environmentId: string, kind: Kind): Promise<StartSample> {
	const t0 = performance.now();
	const wall0 = Date.now();
	const started = await forwarder.call({ op: 'start', kind, environment: environmentId });
	const t1 = performance.now();
	// kernel.startedAt: when the session host spawned python (ms resolution, same clock).
	const beforeSpawn = Date.parse(started.kernel.startedAt) - wall0;
	let client: KernelClient | undefined;
	try {
		const info = JSON.parse(await readFile(started.connectionFile, 'utf8')) as ConnectionInfo;
		client = await KernelClient.connect(info, { connectTimeoutMs: 30_000 });
		const t2 = performance.now();
		await client.waitReady(30_000);
		const t3 = performance.now();
		const outcome = await client.execute('1+1', { timeoutMs: 30_000 });
		const t4 = performance.now();
		if (outcome.result !== '2') throw new Error(`execute('1+1') through the forwarder gave ${JSON.stringify(outcome)}`);
		return {
			totalMs: t4 - t0,
			parts: {
				kernelStartRpc: started.kernelStartRpcMs,
				kernelStartRpcBeforeSpawn: beforeSpawn,
				kernelStartRpcSpawnToReply: started.kernelStartRpcMs - beforeSpawn,
				forwarderOpen: started.forwarderOpenMs,
				helperPipes: t1 - t0 - started.kernelStartRpcMs - started.forwarderOpenMs,
				clientConnect: t2 - t1,
				waitReady: t3 - t2,
				execute: t4 - t3,
			},
		};
	} finally {
		client?.close();
		await forwarder.call({ op: 'shutdown', id: started.kernel.id });
	}
}

async function localStart(ctx: Context, kind: Kind): Promise<StartSample> {
	const t0 = performance.now();
	const kernel = await launchLocalKernel(ctx, kind, 'ipc');
	const t1 = performance.now();
	let client: KernelClient | undefined;
	try {
		const exited = new Promise<never>((_, reject) =>
			kernel.child.once('exit', (code, signal) => reject(new Error(`local ${kind} kernel exited (${signal ?? code}): ${kernel.stderrTail.join(' | ')}`))),
		);
		exited.catch(() => undefined);
		client = await Promise.race([KernelClient.connect(kernel.info, { connectTimeoutMs: 30_000 }), exited]);
		const t2 = performance.now();
		await client.waitReady(30_000);
		const t3 = performance.now();
		const outcome = await client.execute('1+1', { timeoutMs: 30_000 });
		const t4 = performance.now();
		if (outcome.result !== '2') throw new Error(`execute('1+1') on the local kernel gave ${JSON.stringify(outcome)}`);
		return { totalMs: t4 - t0, parts: { writeFileAndSpawn: t1 - t0, connectUntilBound: t2 - t1, waitReady: t3 - t2, execute: t4 - t3 } };
	} finally {
		client?.close();
		await stopLocalKernel(kernel);
	}
}

/** Logs the forwarder process in to `server` as `user` by password; its connection files go to `connectionDir`. */
function logIn(forwarder: ForwarderProcess, server: { port: number; fingerprint: string }, user: TestUser, connectionDir: string) {
	return forwarder.call({
		op: 'login',
		host: HOST,
		port: server.port,
		fingerprint: server.fingerprint,
		user: user.name,
		password: user.password,
		connectionDir,
	});
}

function startSummary(samples: StartSample[]) {
	const parts = Object.keys(samples[0]?.parts ?? {});
	return {
		totalMs: counted(samples.map((sample) => sample.totalMs)),
		medianPartsMs: Object.fromEntries(parts.map((part) => [part, round(median(samples.map((sample) => sample.parts[part]!)))])),
		samplesMs: samples.map((sample) => round(sample.totalMs, 0)),
	};
}

async function measureStartup(ctx: Context, forwarder: ForwarderProcess, environmentId: string) {
	const samples = new Map<string, StartSample[]>();
	for (const kind of KINDS) {
		samples.set(`${kind}/remote`, []);
		samples.set(`${kind}/local`, []);
		// One of each first, not counted: page cache, ~/.ipython of the fresh user, the session host's first kernel.
		log(`start-up: warm-up ${kind}`);
		await remoteStart(forwarder, environmentId, kind);
		await localStart(ctx, kind);
	}
	let repetitions = 0;
	let lastS = 0;
	for (let r = 0; r < STARTS; r++) {
		if (r >= 1 && elapsedS() + 1.2 * lastS > STARTUP_BUDGET_S) {
			log(`start-up: time budget reached after ${r} repetitions`);
			break;
		}
		const repetitionStart = elapsedS();
		for (const kind of KINDS) {
			// Alternate which side goes first, so drifting machine load hits both alike.
			const order = r % 2 === 0 ? (['remote', 'local'] as const) : (['local', 'remote'] as const);
			for (const side of order) {
				const sample = side === 'remote' ? await remoteStart(forwarder, environmentId, kind) : await localStart(ctx, kind);
				samples.get(`${kind}/${side}`)!.push(sample);
				log(`start-up ${r + 1}/${STARTS} ${kind} ${side}: ${sample.totalMs.toFixed(0)} ms`);
			}
		}
		repetitions = r + 1;
		lastS = elapsedS() - repetitionStart;
	}
	return Object.fromEntries(
		KINDS.map((kind) => {
			const remote = samples.get(`${kind}/remote`)!;
			const local = samples.get(`${kind}/local`)!;
			const ratio = median(remote.map((sample) => sample.totalMs)) / median(local.map((sample) => sample.totalMs));
			// The two sides of one repetition ran back to back: their ratio is less exposed to the machine's drifting load than the ratio of medians.
			const paired = remote.map((sample, i) => sample.totalMs / local[i]!.totalMs);
			return [
				kind,
				{
					repetitions,
					forwarded: startSummary(remote),
					local: startSummary(local),
					ratio: round(ratio, 3),
					pairedRatios: paired.map((value) => round(value, 3)),
					pairedRatioMedian: round(median(paired), 3),
					extraMs: round(median(remote.map((sample) => sample.totalMs)) - median(local.map((sample) => sample.totalMs)), 0),
				},
			];
		}),
	);
}

// ---------------------------------------------------------------- warm pool

/**
 * Start-up from the warm pool: a second ssd-server whose kernels.warmPool
 * names the same environment for both kinds, so each login's session host
 * keeps one kernel of each kind started. Each sample is the forwarded
 * start-up above; the pool gets WARM_REFILL_MS to replace the kernel the
 * previous sample took. `warm` counts the samples whose kernel was launched
 * before the request (its startedAt), i.e. really came from the pool.
 */
async function measureWarmStarts(tmp: string, user: TestUser, prefix: string, cleanups: (() => Promise<unknown>)[]) {
	const daemon = await spawnHelper('daemon.mjs', ['warm', join(tmp, 'warm-state'), join(tmp, 'warm-run'), prefix]);
	const stopDaemon = () => stopChild(daemon.child, 'SIGTERM', 15_000);
	cleanups.push(stopDaemon);
	const server = daemon.info as { port: number; fingerprint: string };
	const forwarder = ForwarderProcess.start();
	const stopForwarder = () => stopChild(forwarder.child, 'SIGTERM', 15_000);
	cleanups.push(stopForwarder);
	try {
		const login = await logIn(forwarder, server, user, join(tmp, 'jupyter-warm'));
		const environmentId = (login.environment as { id: string }).id;
		const results: Record<string, unknown> = {};
		for (const kind of KINDS) {
			const samples: StartSample[] = [];
			let warm = 0;
			for (let r = 0; r < WARM_STARTS; r++) {
				await new Promise((resolve) => setTimeout(resolve, WARM_REFILL_MS));
				const sample = await remoteStart(forwarder, environmentId, kind);
				if (sample.parts.kernelStartRpcBeforeSpawn! < 0) warm += 1;
				samples.push(sample);
				log(`warm pool ${r + 1}/${WARM_STARTS} ${kind}: ${sample.totalMs.toFixed(0)} ms`);
			}
			const readyMs = samples.map((sample) => sample.totalMs - sample.parts.execute!);
			const medianReady = median(readyMs);
			results[kind] = {
				warm,
				of: samples.length,
				readyMs: counted(readyMs),
				...startSummary(samples),
				target: {
					limit: `<= ${TARGET_WARM_READY_MS} ms`,
					medianReadyMs: round(medianReady, 1),
					pass: medianReady <= TARGET_WARM_READY_MS && warm === samples.length,
				},
			};
		}
		return results;
	} finally {
		await stopForwarder();
		await stopDaemon();
	}
}

// ------------------------------------------------------------------- ssh

interface Ssh {
	readonly port: number;
	readonly sshd: ChildProcess;
	readonly clientKey: string;
	readonly version: string;
}

/** A throwaway sshd on a spare loopback port: throwaway host key, key login for the bench user only. */
async function startSshd(ctx: Context, cleanups: (() => Promise<void> | void)[]): Promise<Ssh | { skipped: string }> {
	for (const binary of ['/usr/sbin/sshd', '/usr/bin/ssh', '/usr/bin/ssh-keygen']) {
		if (!existsSync(binary)) return { skipped: `${binary} is missing (apt-get install -y openssh-server openssh-client)` };
	}
	const directory = join(ctx.tmp, 'ssh');
	await mkdir(directory, { mode: 0o700 });
	const hostKey = join(directory, 'host_ed25519');
	const clientKey = join(directory, 'client_ed25519');
	execFileSync('/usr/bin/ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'spyder-remote-bench-host', '-f', hostKey]);
	execFileSync('/usr/bin/ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'spyder-remote-bench-client', '-f', clientKey]);
	// In the throwaway user's home, which goes with the user.
	const dotSsh = join(ctx.user.home, '.ssh');
	await mkdir(dotSsh, { mode: 0o700 });
	await writeFile(join(dotSsh, 'authorized_keys'), await readFile(`${clientKey}.pub`), { mode: 0o600 });
	await chown(dotSsh, ctx.user.uid, ctx.user.gid);
	await chown(join(dotSsh, 'authorized_keys'), ctx.user.uid, ctx.user.gid);
	// sshd refuses to start without its privilege separation directory; the package's init script would make it.
	if (!existsSync('/run/sshd')) {
		await mkdir('/run/sshd', { mode: 0o755 });
		cleanups.push(() => rmdirSync('/run/sshd'));
	}
	const port = await freePort();
	const config = join(directory, 'sshd_config');
	await writeFile(
		config,
		[
			`Port ${port}`,
			`ListenAddress ${HOST}`,
			`HostKey ${hostKey}`,
			'PidFile none',
			'UsePAM no',
			'PasswordAuthentication no',
			'KbdInteractiveAuthentication no',
			'PubkeyAuthentication yes',
			'AuthorizedKeysFile .ssh/authorized_keys',
			'PermitRootLogin no',
			`AllowUsers ${ctx.user.name}`,
			'AllowTcpForwarding local',
			'AllowStreamLocalForwarding local',
			'X11Forwarding no',
			'PermitTTY yes',
			'PrintMotd no',
			'LogLevel ERROR',
			'',
		].join('\n'),
		{ mode: 0o600 },
	);
	try {
		execFileSync('/usr/sbin/sshd', ['-t', '-f', config], { stdio: ['ignore', 'ignore', 'pipe'] });
	} catch (error) {
		return { skipped: `sshd -t rejected the bench configuration: ${String((error as { stderr?: Buffer }).stderr ?? error).trim()}` };
	}
	const sshd = track(spawn('/usr/sbin/sshd', ['-D', '-e', '-f', config], { stdio: ['ignore', 'ignore', 'pipe'] }));
	cleanups.push(() => stopChild(sshd));
	const stderr: string[] = [];
	createInterface({ input: sshd.stderr! }).on('line', (line) => stderr.push(line));
	// Ready when it sends its banner.
	const deadline = Date.now() + 10_000;
	for (;;) {
		if (sshd.exitCode !== null || sshd.signalCode !== null) return { skipped: `sshd exited at start: ${stderr.join(' | ')}` };
		const banner = await new Promise<string>((resolve) => {
			const socket = netConnect({ host: HOST, port });
			socket.once('data', (chunk) => {
				socket.destroy();
				resolve(chunk.toString('latin1'));
			});
			socket.once('error', () => resolve(''));
		});
		if (banner.startsWith('SSH-')) break;
		if (Date.now() > deadline) return { skipped: `sshd did not answer on ${HOST}:${port} within 10 s: ${stderr.join(' | ')}` };
		await new Promise((resolve) => setTimeout(resolve, 50));
	}
	// ssh -V prints to stderr.
	const version = spawnSync('/usr/bin/ssh', ['-V'], { encoding: 'utf8' }).stderr.trim();
	return { port, sshd, clientKey, version };
}

/**
 * `ssh -N -L …` with one forward per target; resolves once every local
 * listener is up. With `tty`, instead of -N a pty session runs `sleep`:
 * OpenSSH turns Nagle off (TCP_NODELAY) on its connection only for
 * interactive sessions, i.e. with a pty or X11, never for -N.
 */
async function startSshForwards(
	ctx: Context,
	ssh: Ssh,
	forwards: { localPort: number; target: string }[],
	tty = false,
): Promise<{ child: ChildProcess; cipher: string }> {
	const args = [
		'-F',
		'/dev/null',
		...(tty ? ['-tt'] : ['-N', '-T']),
		'-v',
		'-o',
		'BatchMode=yes',
		'-o',
		'StrictHostKeyChecking=no',
		'-o',
		'UserKnownHostsFile=/dev/null',
		'-o',
		'IdentitiesOnly=yes',
		'-o',
		'ExitOnForwardFailure=yes',
		'-o',
		'ControlPath=none',
		'-i',
		ssh.clientKey,
		'-p',
		String(ssh.port),
		...forwards.flatMap((forward) => ['-L', `${HOST}:${forward.localPort}:${forward.target}`]),
		`${ctx.user.name}@${HOST}`,
		...(tty ? ['exec sleep 600'] : []),
	];
	const child = track(spawn('/usr/bin/ssh', args, { stdio: ['ignore', 'ignore', 'pipe'] }));
	const lines: string[] = [];
	let listening = 0;
	let cipher = '';
	await new Promise<void>((resolve, reject) => {
		const timer = setTimeout(() => reject(new Error(`ssh -L not ready within 15 s: ${lines.slice(-5).join(' | ')}`)), 15_000);
		createInterface({ input: child.stderr! }).on('line', (line) => {
			if (lines.length < 200) lines.push(line);
			const kex = /kex: server->client cipher: (\S+) MAC: (\S+)/.exec(line);
			if (kex) cipher = `${kex[1]}${kex[2] === '<implicit>' ? '' : ` + ${kex[2]}`}`;
			if (/Local forwarding listening on/.test(line) && ++listening === forwards.length) {
				clearTimeout(timer);
				resolve();
			}
		});
		child.once('exit', (code, signal) => {
			clearTimeout(timer);
			reject(new Error(`ssh exited (${signal ?? code}): ${lines.filter((line) => !line.startsWith('debug')).join(' | ') || lines.slice(-5).join(' | ')}`));
		});
	});
	return { child, cipher };
}

// -------------------------------------------------------------- transport

interface TransportPath {
	readonly name: string;
	readonly description: string;
	readonly info: ConnectionInfo;
	/** The direct path to the same kernel, for the ratios. */
	readonly direct: 'directIpc' | 'directTcp';
	/** Which processes move the bytes, for the CPU figures. */
	readonly processes: () => Record<string, number | undefined | number[]>;
}

interface PathResult {
	hbUs: number[];
	executeMs: number[];
	iopubMBps: number[];
	iopubMs: number[];
	hbBulkMBps: number[];
	cpuMs: Record<string, number>;
	iopubBytes: number;
	hbCpuMs: Record<string, number>;
	hbBytes: number;
}

const MB = 1_000_000;
const bulkCode = (mb: number) => `import sys\n_chunk = 'x' * ${MB}\nfor _ in range(${mb}):\n    sys.stdout.write(_chunk)\n    sys.stdout.flush()\ndel _chunk\n`;

async function hbRoundTrips(echo: Echo, count: number, samples: number[] | undefined): Promise<void> {
	const payload = randomBytes(64);
	for (let i = 0; i < count; i++) {
		const t0 = process.hrtime.bigint();
		await echo.ping(payload);
		samples?.push(Number(process.hrtime.bigint() - t0) / 1000);
	}
}

/** MB/s of 1 MB heartbeat echoes with HB_BULK_WINDOW in flight (each byte goes out and comes back). */
async function hbBulk(echo: Echo, megabytes: number): Promise<number> {
	const payload = randomBytes(MB);
	let sent = 0;
	const t0 = performance.now();
	const worker = async () => {
		while (sent < megabytes) {
			sent += 1;
			const [frame] = await echo.ping(payload);
			if (frame?.length !== MB) throw new Error(`heartbeat echoed ${frame?.length} bytes, not ${MB}`);
		}
	};
	await Promise.all(Array.from({ length: HB_BULK_WINDOW }, worker));
	return megabytes / ((performance.now() - t0) / 1000);
}

function cpuOf(processes: Record<string, number | undefined | number[]>): Record<string, number> {
	const result: Record<string, number> = { benchClient: (process.cpuUsage().user + process.cpuUsage().system) / 1000 };
	for (const [name, pids] of Object.entries(processes)) result[name] = (Array.isArray(pids) ? pids : [pids]).reduce<number>((sum, pid) => sum + cpuMs(pid), 0);
	return result;
}

async function measurePath(path: TransportPath, result: PathResult, first: boolean, hbPings: number, execPings: number): Promise<void> {
	const client = await KernelClient.connect(path.info, { connectTimeoutMs: 15_000 });
	const echo = await Echo.open(endpointOf(path.info, path.info.hb_port));
	try {
		await client.waitReady(20_000);
		// Warm-up every time (fresh connections); a small bulk transfer too on the first round.
		await hbRoundTrips(echo, 50, undefined);
		for (let i = 0; i < 10; i++) await client.execute('pass');
		if (first) {
			await client.execute(bulkCode(Math.max(1, Math.round(BULK_MB / 5))), { timeoutMs: 60_000 });
			await hbBulk(echo, Math.max(1, Math.round(BULK_MB / 10)));
		}
		await hbRoundTrips(echo, hbPings, result.hbUs);
		for (let i = 0; i < execPings; i++) {
			const t0 = process.hrtime.bigint();
			await client.execute('pass');
			result.executeMs.push(Number(process.hrtime.bigint() - t0) / 1e6);
		}
		const before = cpuOf(path.processes());
		const t0 = performance.now();
		const outcome = await client.execute(bulkCode(BULK_MB), { timeoutMs: 90_000 });
		const ms = performance.now() - t0;
		const after = cpuOf(path.processes());
		for (const [name, value] of Object.entries(after)) result.cpuMs[name] = (result.cpuMs[name] ?? 0) + value - (before[name] ?? 0);
		if (outcome.status !== 'ok' || outcome.stdout.length !== BULK_MB * MB)
			throw new Error(`bulk output through ${path.name}: status ${outcome.status}, ${outcome.stdout.length} of ${BULK_MB * MB} bytes`);
		result.iopubBytes += outcome.stdout.length;
		result.iopubMs.push(ms);
		result.iopubMBps.push(BULK_MB / (ms / 1000));
		const hbMegabytes = Math.max(1, Math.round(BULK_MB / 2));
		const hbBefore = cpuOf(path.processes());
		result.hbBulkMBps.push(await hbBulk(echo, hbMegabytes));
		const hbAfter = cpuOf(path.processes());
		for (const [name, value] of Object.entries(hbAfter)) result.hbCpuMs[name] = (result.hbCpuMs[name] ?? 0) + value - (hbBefore[name] ?? 0);
		result.hbBytes += hbMegabytes * MB;
	} finally {
		echo.close();
		client.close();
	}
}

async function measureTransport(paths: TransportPath[]) {
	const results = new Map<string, PathResult>(
		paths.map((path) => [
			path.name,
			{ hbUs: [], executeMs: [], iopubMBps: [], iopubMs: [], hbBulkMBps: [], cpuMs: {}, iopubBytes: 0, hbCpuMs: {}, hbBytes: 0 },
		]),
	);
	let rounds = 0;
	let lastS = 0;
	for (let r = 0; r < ROUNDS; r++) {
		if (r >= 1 && elapsedS() + 1.2 * lastS > ROUNDS_BUDGET_S) {
			log(`transport: time budget reached after ${r} rounds`);
			break;
		}
		const roundStart = elapsedS();
		for (let k = 0; k < paths.length; k++) {
			const path = paths[(k + r) % paths.length]!;
			log(`transport round ${r + 1}/${ROUNDS}: ${path.name}`);
			await measurePath(path, results.get(path.name)!, r === 0, HB_PINGS, EXEC_PINGS);
		}
		rounds = r + 1;
		lastS = elapsedS() - roundStart;
	}
	const summary = Object.fromEntries(
		paths.map((path) => {
			const result = results.get(path.name)!;
			const megabytes = result.iopubBytes / MB;
			return [
				path.name,
				{
					description: path.description,
					hbEcho64BUs: latencySummary(result.hbUs, 1),
					executePassMs: latencySummary(result.executeMs, 3),
					iopubStreamMBps: counted(result.iopubMBps),
					iopubStreamMs: counted(result.iopubMs, 0),
					hbEcho1MBMBps: counted(result.hbBulkMBps),
					cpuMsPerMBDuringIopubBulk: Object.fromEntries(Object.entries(result.cpuMs).map(([name, value]) => [name, round(value / megabytes, 2)])),
					cpuMsPerMBDuringHbBulk: Object.fromEntries(Object.entries(result.hbCpuMs).map(([name, value]) => [name, round(value / (result.hbBytes / MB), 2)])),
				},
			];
		}),
	);
	// The cost of each path relative to no transport at all (same kernel, KernelClient straight on its sockets).
	type Summary = { hbEcho64BUs: { p50: number }; executePassMs: { p50: number }; iopubStreamMBps: { median: number }; hbEcho1MBMBps: { median: number } };
	const of = (name: string) => summary[name] as Summary;
	const relativeToDirect = Object.fromEntries(
		paths
			.filter((path) => path.name !== path.direct)
			.map((path) => {
				const a = of(path.name);
				const b = of(path.direct);
				return [
					path.name,
					{
						direct: path.direct,
						hbEchoP50AddedUs: round(a.hbEcho64BUs.p50 - b.hbEcho64BUs.p50),
						executePassP50AddedMs: round(a.executePassMs.p50 - b.executePassMs.p50, 3),
						iopubThroughputRatio: round(a.iopubStreamMBps.median / b.iopubStreamMBps.median, 3),
						hbEchoThroughputRatio: round(a.hbEcho1MBMBps.median / b.hbEcho1MBMBps.median, 3),
					},
				];
			}),
	);
	const perRound = Object.fromEntries([...results].map(([name, result]) => [name, { iopubMBps: result.iopubMBps, hbBulkMBps: result.hbBulkMBps }]));
	return { rounds, summary, relativeToDirect, perRound };
}

// ------------------------------------------------------------------ main

async function main({ tmp, cleanups, atExit, machine }: BenchRun): Promise<Record<string, unknown>> {
	if (process.getuid?.() !== 0) throw new Error('this bench needs root: it creates a throwaway OS user, runs kernels as that user and starts an sshd');
	// Session hosts and kernels run as the bench user and must reach their directories below here.
	await chmod(tmp, 0o711);
	let user: TestUser | undefined;
	let userDeleted = false;
	// No child and no throwaway account outlives the process.
	atExit(() => {
		for (const child of children) killNow(child);
		if (user && !userDeleted) {
			for (const [file, args] of [
				['pkill', ['-KILL', '-u', user.name]],
				['userdel', ['--remove', user.name]],
				['groupdel', [user.supplementaryGroup]],
			] as const) {
				try {
					execFileSync(file, [...args], { stdio: 'ignore' });
				} catch {
					// Best effort.
				}
			}
		}
	});

	user = await createTestUser();
	const account = user;
	cleanups.push(async () => {
		await deleteTestUser(account);
		userDeleted = true;
	});
	await mkdir(join(tmp, 'local'), { mode: 0o711 });
	log(`throwaway user ${user.name}`);

	const daemon = await spawnHelper('daemon.mjs', ['system', join(tmp, 'state'), join(tmp, 'run')]);
	cleanups.push(() => stopChild(daemon.child, 'SIGTERM', 15_000));
	const server = daemon.info as { port: number; fingerprint: string; pid: number };
	log(`ssd-server (child process) on ${HOST}:${server.port}`);

	const forwarder = ForwarderProcess.start();
	cleanups.push(() => stopChild(forwarder.child, 'SIGTERM', 15_000));
	const login = await logIn(forwarder, server, user, join(tmp, 'jupyter'));
	const environment = login.environment as { id: string; python: string; prefix: string; spyderKernels?: string; ipykernel?: string };
	const ctx: Context = { tmp, user, python: environment.python };
	log(`environment ${environment.prefix} (python ${environment.python})`);

	// ------------------------------------------------------- 1. start-up
	const startup = await measureStartup(ctx, forwarder, environment.id);
	const startupTargets = Object.fromEntries(
		Object.entries(startup).map(([kind, value]) => [
			kind,
			{ limit: `<= ${TARGET_STARTUP_RATIO}`, ratio: value.ratio, pairedRatioMedian: value.pairedRatioMedian, pass: value.ratio <= TARGET_STARTUP_RATIO },
		]),
	);
	const environmentReport = machine({
		python: environment.python,
		spyderKernels: environment.spyderKernels,
		ipykernel: environment.ipykernel,
		kernelUser: user.name,
	});
	const startupReport = {
		note: "forwarded = kernel/start (includes the server's own connect + kernel_info + IOPub check, and the spyder comm-port scan) + KernelForwarder.open + KernelClient.connect on its connection file + waitReady + execute('1+1'); local = write ipc connection file + setpriv python launcher + KernelClient.connect (polls until bound) + waitReady + execute('1+1'); medians of the repetitions after one uncounted warm-up each",
		...startup,
	};
	if (STARTUP_ONLY)
		return {
			environment: environmentReport,
			parameters: { startsPerKindAndSide: STARTS, kinds: KINDS, startupOnly: true },
			targets: { startupRatio: startupTargets },
			startup: startupReport,
		};
	log('warm pool: a second ssd-server with kernels.warmPool');
	const warmPool = await measureWarmStarts(tmp, user, environment.prefix, cleanups);

	// ----------------------------------------------------- 2. transport
	log('transport: starting the kernels');
	const k1 = await forwarder.call({ op: 'start', kind: 'ipykernel', environment: environment.id });
	const k1Kernel = k1.kernel as { id: string; pid: number; connection: { key: string } };
	const k1Directory = await findKernelDirectory(join(tmp, 'run'), k1Kernel.id);
	if (!k1Directory) throw new Error(`cannot find the directory of kernel ${k1Kernel.id} under ${join(tmp, 'run')}`);
	const k1Forwarded = JSON.parse(await readFile(k1.connectionFile, 'utf8')) as ConnectionInfo;
	const k1Direct: ConnectionInfo = {
		...k1Forwarded,
		transport: 'ipc',
		ip: join(k1Directory, 'kernel'),
		shell_port: 1,
		iopub_port: 2,
		stdin_port: 3,
		control_port: 4,
		hb_port: 5,
	};
	await stat(`${k1Direct.ip}-1`);
	const k2 = await launchLocalKernel(ctx, 'ipykernel', 'tcp');
	cleanups.push(() => stopLocalKernel(k2));
	const k2Probe = await KernelClient.connect(k2.info, { connectTimeoutMs: 30_000 });
	await k2Probe.waitReady(30_000);
	k2Probe.close();

	const sessionHosts = () => childPids(server.pid);
	const paths: TransportPath[] = [
		{
			name: 'forwarder',
			description:
				'KernelForwarder (own process) → one TLS 1.3 connection per channel → ssd-server (own process) → the kernel unix socket, handed to the daemon by the session host',
			direct: 'directIpc',
			info: k1Forwarded,
			processes: () => ({ forwarder: forwarder.child.pid, daemon: server.pid, sessionHost: sessionHosts(), kernel: k1Kernel.pid }),
		},
		{
			name: 'directIpc',
			description: "KernelClient straight on the same kernel's unix sockets (no transport at all)",
			direct: 'directIpc',
			info: k1Direct,
			processes: () => ({ sessionHost: sessionHosts(), kernel: k1Kernel.pid }),
		},
		{
			name: 'directTcp',
			description: 'a second ipykernel, same launcher, transport tcp on 127.0.0.1, KernelClient straight on its ports',
			direct: 'directTcp',
			info: k2.info,
			processes: () => ({ kernel: k2.child.pid }),
		},
	];

	let sshReport: Record<string, unknown>;
	const ssh = await startSshd(ctx, cleanups);
	if ('skipped' in ssh) {
		sshReport = { skipped: ssh.skipped };
		log(`ssh baseline skipped: ${ssh.skipped}`);
	} else {
		try {
			const channels = ['shell_port', 'iopub_port', 'stdin_port', 'control_port', 'hb_port'] as const;
			const unixPorts = await Promise.all(channels.map(() => freePort()));
			const tcpPorts = await Promise.all(channels.map(() => freePort()));
			const forwards = [
				...channels.map((channel, i) => ({ localPort: unixPorts[i]!, target: `${k1Direct.ip}-${k1Direct[channel]}` })),
				...channels.map((channel, i) => ({ localPort: tcpPorts[i]!, target: `${HOST}:${k2.info[channel]}` })),
			];
			const tunnel = await startSshForwards(ctx, ssh, forwards);
			cleanups.push(() => stopChild(tunnel.child));
			const ttyPorts = await Promise.all(channels.map(() => freePort()));
			const ttyTunnel = await startSshForwards(
				ctx,
				ssh,
				channels.map((channel, i) => ({ localPort: ttyPorts[i]!, target: `${k1Direct.ip}-${k1Direct[channel]}` })),
				true,
			);
			cleanups.push(() => stopChild(ttyTunnel.child));
			const local = (ports: number[], base: ConnectionInfo): ConnectionInfo => ({
				...base,
				transport: 'tcp',
				ip: HOST,
				shell_port: ports[0]!,
				iopub_port: ports[1]!,
				stdin_port: ports[2]!,
				control_port: ports[3]!,
				hb_port: ports[4]!,
			});
			const sshd = () => [ssh.sshd.pid!, ...descendants(ssh.sshd.pid!)];
			paths.push(
				{
					name: 'sshUnix',
					description:
						"ssh -L 127.0.0.1:PORT:/…/kernel-N (own process) → one TCP connection → sshd (per-connection process, as the user) → the same kernel's unix sockets",
					direct: 'directIpc',
					info: local(unixPorts, k1Direct),
					processes: () => ({ ssh: tunnel.child.pid, sshd: sshd(), sessionHost: sessionHosts(), kernel: k1Kernel.pid }),
				},
				{
					name: 'sshUnixTty',
					description:
						'the same as sshUnix from a second ssh process that also runs a pty session (-tt … sleep), so that OpenSSH sets TCP_NODELAY on its connection',
					direct: 'directIpc',
					info: local(ttyPorts, k1Direct),
					processes: () => ({ ssh: ttyTunnel.child.pid, sshd: sshd(), sessionHost: sessionHosts(), kernel: k1Kernel.pid }),
				},
				{
					name: 'sshTcp',
					description: "ssh -L 127.0.0.1:PORT:127.0.0.1:KPORT → sshd → the TCP kernel's ports",
					direct: 'directTcp',
					info: local(tcpPorts, k2.info),
					processes: () => ({ ssh: tunnel.child.pid, sshd: sshd(), kernel: k2.child.pid }),
				},
			);
			sshReport = {
				version: ssh.version,
				cipher: tunnel.cipher,
				sshdPort: ssh.port,
				note: 'Debian OpenSSH defaults (no Compression); sshd -D on a spare loopback port with a throwaway host key, key login for the throwaway user; one ssh -N process with ten -L forwards (sshUnix, sshTcp), and one ssh -tt process running `sleep` with five (sshUnixTty)',
			};
		} catch (error) {
			sshReport = { skipped: `sshd runs, but ssh -L could not be set up: ${(error as Error).message}` };
			log(`ssh baseline skipped: ${(error as Error).message}`);
		}
	}

	const transport = await measureTransport(paths);
	const summary = transport.summary as Record<
		string,
		{
			hbEcho64BUs: { p50: number; p99: number };
			executePassMs: { p50: number; p99: number };
			iopubStreamMBps: { median: number };
			hbEcho1MBMBps: { median: number };
		}
	>;

	// -------------------------------------------------------- targets
	const sshFor = (name: 'sshUnix' | 'sshUnixTty' | 'sshTcp') => {
		const fwd = summary['forwarder']!;
		const base = summary[name];
		if (!base) return { skipped: (sshReport as { skipped?: string }).skipped };
		const throughput = fwd.iopubStreamMBps.median / base.iopubStreamMBps.median;
		// Per round, forwarder and ssh ran within seconds of each other: the ratio of each round's pair, median over rounds.
		const ours = transport.perRound['forwarder']!.iopubMBps;
		const theirs = transport.perRound[name]!.iopubMBps;
		const paired = median(ours.map((value, i) => value / theirs[i]!));
		const rtt = fwd.executePassMs.p50 / base.executePassMs.p50;
		// No transport can beat none: the same kernel read directly bounds what any forwarder could reach against this ssh.
		const direct = summary[name === 'sshTcp' ? 'directTcp' : 'directIpc']!;
		const ceiling = direct.iopubStreamMBps.median / base.iopubStreamMBps.median;
		return {
			throughput: {
				limit: `>= ${TARGET_THROUGHPUT_VS_SSH}`,
				forwarderMBps: fwd.iopubStreamMBps.median,
				sshMBps: base.iopubStreamMBps.median,
				ratio: round(throughput, 3),
				pairedRoundRatios: ours.map((value, i) => round(value / theirs[i]!, 3)),
				pairedRoundRatioMedian: round(paired, 3),
				pass: throughput >= TARGET_THROUGHPUT_VS_SSH,
				noTransportCeiling: {
					ratio: round(ceiling, 3),
					note: 'the kernel read with no transport at all, against this ssh: no transport can reach more',
					targetReachable: ceiling >= TARGET_THROUGHPUT_VS_SSH,
				},
			},
			roundTrip: {
				limit: `<= ${TARGET_ROUND_TRIP_VS_SSH}`,
				forwarderP50Ms: fwd.executePassMs.p50,
				sshP50Ms: base.executePassMs.p50,
				ratio: round(rtt, 3),
				pass: rtt <= TARGET_ROUND_TRIP_VS_SSH,
				p99Ratio: round(fwd.executePassMs.p99 / base.executePassMs.p99, 3),
			},
			informational: {
				hbEchoP50Ratio: round(fwd.hbEcho64BUs.p50 / base.hbEcho64BUs.p50, 3),
				hbEchoP99Ratio: round(fwd.hbEcho64BUs.p99 / base.hbEcho64BUs.p99, 3),
				hbEcho1MBThroughputRatio: round(fwd.hbEcho1MBMBps.median / base.hbEcho1MBMBps.median, 3),
			},
		};
	};
	const vsSshUnix = sshFor('sshUnix');
	const vsSshTcp = sshFor('sshTcp');
	const vsSshTty = sshFor('sshUnixTty');
	const passOf = (value: { throughput?: { pass: boolean }; roundTrip?: { pass: boolean } }, key: 'throughput' | 'roundTrip') => value[key]?.pass ?? null;

	return {
		environment: environmentReport,
		parameters: {
			startsPerKindAndSide: STARTS,
			kinds: KINDS,
			rounds: ROUNDS,
			roundsRun: transport.rounds,
			bulkMB: BULK_MB,
			hbPingsPerRound: HB_PINGS,
			executePingsPerRound: EXEC_PINGS,
			hbBulkWindow: HB_BULK_WINDOW,
		},
		targets: {
			startupRatio: startupTargets,
			throughputVsSshL: {
				pass: passOf(vsSshUnix, 'throughput'),
				note: 'primary baseline: ssh -N -L to the same kernel (same unix sockets); also against ssh -L to a TCP kernel, and (informational) ssh with a pty session, which turns Nagle off',
				vsSameKernelUnixSockets: vsSshUnix,
				vsTcpKernel: vsSshTcp,
				vsSshWithPtyNodelay: vsSshTty,
			},
			roundTripVsSshL: { pass: passOf(vsSshUnix, 'roundTrip'), note: 'execute(pass) p50; details under throughputVsSshL.*.roundTrip' },
			summary: {
				startupSpyder: startupTargets['spyder']?.pass ?? null,
				startupIpykernel: startupTargets['ipykernel']?.pass ?? null,
				throughputVsSshSameKernel: passOf(vsSshUnix, 'throughput'),
				throughputVsSshTcpKernel: passOf(vsSshTcp, 'throughput'),
				roundTripVsSshSameKernel: passOf(vsSshUnix, 'roundTrip'),
				roundTripVsSshTcpKernel: passOf(vsSshTcp, 'roundTrip'),
				informationalRoundTripVsSshWithPty: passOf(vsSshTty, 'roundTrip'),
				informationalThroughputVsSshWithPty: passOf(vsSshTty, 'throughput'),
			},
		},
		startup: startupReport,
		transport: {
			note: `same kernel (a server-started ipykernel) for forwarder, directIpc, sshUnix and sshUnixTty; a second, local TCP ipykernel for directTcp and sshTcp. iopubStream = execute() of a loop writing ${BULK_MB} × 1 MB to sys.stdout with a flush after each (${BULK_MB} stream messages of 1 MB), from execute_request to execute_reply + idle with every byte received and checked; hbEcho = the kernel's heartbeat ROUTER echoing DEALER messages (64 B sequential for latency; 1 MB with ${HB_BULK_WINDOW} in flight for bulk, MB/s counted one way). A fresh KernelClient per path and round; only one client subscribed at a time (plus, for the server's kernel, the session host's own IOPub subscription to kernel.* topics: status messages, no output).`,
			...transport.summary,
			relativeToDirect: transport.relativeToDirect,
		},
		ssh: sshReport,
		warmPool: {
			note: `kernels.warmPool = [{environment: "${environment.prefix}", kind}] for each kind, on a second ssd-server; ${WARM_STARTS} forwarded start-ups per kind, each ${WARM_REFILL_MS / 1000} s after the previous, timed as in startup; readyMs = up to waitReady (start to ready), totalMs adds the first execute reply`,
			...warmPool,
		},
	};
}

await run(main);
