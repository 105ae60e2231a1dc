/**
 * Sessions bench: what a login costs, what an idle session costs, and how
 * many sessions a daemon holds under a file-descriptor limit.
 *
 *   node --import=tsx bench/sessions.ts     (build first: npx tsc -b; needs root)
 *
 * 1. Login cost: password and key logins of a throwaway OS user against an
 *    ssd-server in its own process (system mode), interleaved with plain
 *    connects (TLS + initialize, no login) so that the login's share can be
 *    told apart. Latency of each, and the daemon's CPU time per connection
 *    (/proc/<pid>/stat) for each kind.
 * 2. Idle sessions: N key-logged-in sessions kept open (a few logins in
 *    flight at a time); the daemon's VmRSS before and after, per session, and
 *    the user's session host's VmRSS. Every session answers a ping at the end.
 * 3. Descriptor limit: a second daemon started under `prlimit --nofile=L:L`;
 *    sessions are opened until the first one fails. Reports how many were
 *    reached, how the next ones failed, whether the daemon is still alive and
 *    whether the sessions that existed still answer.
 *
 * Prints one JSON object on stdout; progress goes to stderr. Loopback only.
 * The user, the daemons and their session hosts are removed at the end, also
 * on error, SIGINT/SIGTERM and the watchdog.
 *
 * Knobs: BENCH_LOGINS (20 of each kind), BENCH_SESSIONS (1000),
 * BENCH_NOFILE (512), BENCH_LOGINS_IN_FLIGHT (4).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { chmod } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import nacl from 'tweetnacl';
import { RemoteSession } from '@spyder-remote/client';
import { createTestUser, deleteTestUser, type TestUser } from '../test/helpers/os-users.js';
import { childRunning, children, cpuMs, killNow, spawnHelper, stopChild } from './helpers/processes.js';
import { createBench, positive, type BenchRun } from './helpers/run-bench.js';
import { ascending, median, percentiles, round } from './helpers/stats.js';

const HOST = '127.0.0.1';
const LOGINS = Math.round(positive(process.env.BENCH_LOGINS, 20));
const SESSIONS = Math.round(positive(process.env.BENCH_SESSIONS, 1000));
const NOFILE = Math.round(positive(process.env.BENCH_NOFILE, 512));
const IN_FLIGHT = Math.round(positive(process.env.BENCH_LOGINS_IN_FLIGHT, 4));
/** Soft budgets (s since start) for the idle-session and descriptor-limit phases: no new login is begun past them. */
const IDLE_BUDGET_S = 120;
const LIMIT_BUDGET_S = 170;
const WATCHDOG_MS = 200_000;
/** After the first failed login under the descriptor limit: this many more attempts, to see how they fail. */
const PROBES_AFTER_LIMIT = 3;

const { log, elapsedS, run } = createBench({ name: 'sessions', tmpPrefix: 'ssd-bench-sess-', watchdogMs: WATCHDOG_MS });

interface Daemon {
	readonly port: number;
	readonly fingerprint: string;
	readonly pid: number;
}

const ms = (start: number) => performance.now() - start;

/** VmRSS of a process in KiB; NaN once it is gone. */
function rssKiB(pid: number): number {
	try {
		const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
		return match ? Number(match[1]) : NaN;
	} catch {
		return NaN;
	}
}

function alive(pid: number): boolean {
	try {
		process.kill(pid, 0);
		return true;
	} catch {
		return false;
	}
}

/** A reply that never comes (the daemon died mid-request) must not stall the bench. */
function within<T>(promise: Promise<T>, millis: number, what: string): Promise<T> {
	let timer: NodeJS.Timeout | undefined;
	const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no answer within ${millis} ms`)), millis)));
	return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

const connect = (daemon: Daemon) =>
	RemoteSession.connect({ host: HOST, port: daemon.port, fingerprint: daemon.fingerprint, knownHosts: false, connectTimeoutMs: 10_000 });

async function keySession(daemon: Daemon, user: TestUser, keyPair: nacl.SignKeyPair): Promise<RemoteSession> {
	const session = await connect(daemon);
	try {
		await within(session.loginWithKey(user.name, keyPair), 15_000, 'key login');
		return session;
	} catch (error) {
		session.destroy();
		throw error;
	}
}

// ---------------------------------------------------------- 1. login cost

async function measureLogins(daemon: Daemon, user: TestUser, keyPair: nacl.SignKeyPair) {
	const kinds = ['connectOnly', 'password', 'key'] as const;
	const samples = Object.fromEntries(kinds.map((kind) => [kind, { connectMs: [] as number[], loginMs: [] as number[], daemonCpuMs: 0 }]));
	for (let i = 0; i < LOGINS; i++) {
		for (let k = 0; k < kinds.length; k++) {
			const kind = kinds[(k + i) % kinds.length]!;
			const sample = samples[kind]!;
			const cpu0 = cpuMs(daemon.pid);
			const t0 = performance.now();
			const session = await connect(daemon);
			const t1 = performance.now();
			if (kind === 'password') await session.loginWithPassword(user.name, user.password);
			if (kind === 'key') await session.loginWithKey(user.name, keyPair);
			sample.loginMs.push(ms(t1));
			sample.connectMs.push(t1 - t0);
			await session.close();
			// The daemon finishes with the connection after the client has closed it.
			await sleep(20);
			sample.daemonCpuMs += cpuMs(daemon.pid) - cpu0;
		}
	}
	const summary = (kind: (typeof kinds)[number]) => {
		const sample = samples[kind]!;
		return {
			connectMedianMs: round(median(sample.connectMs), 2),
			loginMs: percentiles(ascending(sample.loginMs), 2),
			daemonCpuMsPerConnection: round(sample.daemonCpuMs / LOGINS, 2),
		};
	};
	const connectOnly = summary('connectOnly');
	const password = summary('password');
	const key = summary('key');
	return {
		n: LOGINS,
		connectOnly,
		password,
		key,
		daemonCpuMsPerLogin: {
			password: round(password.daemonCpuMsPerConnection - connectOnly.daemonCpuMsPerConnection, 2),
			key: round(key.daemonCpuMsPerConnection - connectOnly.daemonCpuMsPerConnection, 2),
		},
		notes:
			"loginMs: from initialized to the login reply (key: challenge + signed login). daemonCpuMsPerConnection: the daemon process's CPU (10 ms ticks, summed over n) " +
			'for connect + TLS + initialize + login + close; daemonCpuMsPerLogin subtracts the connect-only figure. The session host is another process and not counted.',
	};
}

// -------------------------------------------------------- 2. idle sessions

/**
 * Opens up to `count` key-login sessions, `IN_FLIGHT` logins at a time, until the count, the
 * budget or the first failure. Returns the sessions and the first error, if any.
 */
async function openSessions(daemon: Daemon, user: TestUser, keyPair: nacl.SignKeyPair, count: number, budgetS: number) {
	const sessions: RemoteSession[] = [];
	const errors: string[] = [];
	let started = 0;
	const worker = async () => {
		while (started < count && errors.length === 0 && elapsedS() < budgetS) {
			started += 1;
			try {
				sessions.push(await keySession(daemon, user, keyPair));
			} catch (error) {
				errors.push((error as Error).message);
			}
		}
	};
	await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
	return { sessions, errors };
}

/** How many of the sessions answer a ping within a few seconds. */
async function answering(sessions: RemoteSession[]): Promise<number> {
	let count = 0;
	for (let i = 0; i < sessions.length; i += 50) {
		const results = await Promise.allSettled(sessions.slice(i, i + 50).map((session) => within(session.ping(), 5_000, 'ping')));
		count += results.filter((result) => result.status === 'fulfilled').length;
	}
	return count;
}

async function closeAll(sessions: RemoteSession[]): Promise<void> {
	await Promise.allSettled(sessions.map((session) => within(session.close(), 5_000, 'close').catch(() => session.destroy())));
}

function sessionHostPid(daemon: Daemon): number | undefined {
	return childRunning(daemon.pid, 'session-host');
}

async function measureIdle(daemon: Daemon, user: TestUser, keyPair: nacl.SignKeyPair) {
	const hostPid = sessionHostPid(daemon);
	await sleep(1_000);
	const before = { daemon: rssKiB(daemon.pid), sessionHost: hostPid === undefined ? NaN : rssKiB(hostPid) };
	const t0 = performance.now();
	const { sessions, errors } = await openSessions(daemon, user, keyPair, SESSIONS, IDLE_BUDGET_S);
	const openS = ms(t0) / 1000;
	log(`idle: ${sessions.length} sessions open in ${openS.toFixed(1)} s`);
	// Let buffers from the logins be freed before reading the resident size.
	await sleep(2_000);
	const after = { daemon: rssKiB(daemon.pid), sessionHost: hostPid === undefined ? NaN : rssKiB(hostPid) };
	const answered = await answering(sessions);
	await closeAll(sessions);
	const n = sessions.length;
	return {
		requested: SESSIONS,
		opened: n,
		errors: errors.slice(0, 3),
		openSeconds: round(openS, 1),
		loginsPerSecond: round(n / openS, 1),
		answeredPing: answered,
		daemonRssMiB: { before: round(before.daemon / 1024), after: round(after.daemon / 1024) },
		daemonKiBPerSession: round((after.daemon - before.daemon) / n),
		sessionHostRssMiB: { before: round(before.sessionHost / 1024), after: round(after.sessionHost / 1024) },
		sessionHostKiBPerSession: round((after.sessionHost - before.sessionHost) / n),
		notes:
			'VmRSS from /proc/<pid>/status, read after one warm-up session (before) and 2 s after the last login (after); one user, so one session host holds every session.',
	};
}

// ------------------------------------------------------ 3. descriptor limit

async function measureLimit(daemon: Daemon, user: TestUser, keyPair: nacl.SignKeyPair) {
	const { sessions, errors } = await openSessions(daemon, user, keyPair, NOFILE, LIMIT_BUDGET_S);
	const reached = sessions.length;
	log(`limit: ${reached} sessions under nofile=${NOFILE}; first failure: ${errors[0] ?? 'none'}`);
	const probes: string[] = [];
	if (errors.length > 0) {
		for (let i = 0; i < PROBES_AFTER_LIMIT && alive(daemon.pid); i++) {
			await keySession(daemon, user, keyPair).then(
				(session) => {
					probes.push('logged in');
					sessions.push(session);
				},
				(error: Error) => probes.push(error.message),
			);
		}
	}
	await sleep(500);
	const daemonAlive = alive(daemon.pid);
	const answered = await answering(sessions.slice(0, reached));
	await closeAll(sessions);
	return {
		nofile: NOFILE,
		sessionsReached: reached,
		stoppedBy: errors.length > 0 ? 'refusal' : elapsedS() >= LIMIT_BUDGET_S ? 'time budget' : 'count (nofile)',
		firstFailure: errors[0],
		nextAttempts: probes,
		daemonAliveAfter: daemonAlive,
		earlierSessionsAnsweringAfter: answered,
		notes: 'Key logins, IN_FLIGHT at a time, until the first failure; then a few more attempts. The session host inherits the limit too.',
	};
}

// ------------------------------------------------------------------ main

async function startDaemon(tmp: string, name: string, cleanups: BenchRun['cleanups'], launcher: string[] = []): Promise<Daemon> {
	const { child, info } = await spawnHelper('daemon.mjs', ['sessions', join(tmp, `${name}-state`), join(tmp, `${name}-run`)], launcher);
	cleanups.push(() => stopChild(child, 'SIGTERM', 15_000));
	return info as unknown as Daemon;
}

async function main({ tmp, cleanups, atExit, machine }: BenchRun): Promise<Record<string, unknown>> {
	if (process.getuid?.() !== 0) throw new Error('this bench needs root: it creates a throwaway OS user and runs system-mode daemons');
	// Session hosts run as the bench user and must reach their directories below here.
	await chmod(tmp, 0o711);
	let user: TestUser | undefined;
	let userDeleted = false;
	atExit(() => {
		for (const child of children) killNow(child);
		if (!user || userDeleted) return;
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
	});
	user = await createTestUser();
	const account = user;
	cleanups.push(async () => {
		await deleteTestUser(account);
		userDeleted = true;
	});
	log(`throwaway user ${user.name}`);

	const daemon = await startDaemon(tmp, 'main', cleanups);
	log(`ssd-server (child process, pid ${daemon.pid}) on ${HOST}:${daemon.port}`);
	// The first login starts the session host; the key is registered through it.
	const keyPair = nacl.sign.keyPair();
	const first = await connect(daemon);
	const c0 = performance.now();
	await first.loginWithPassword(user.name, user.password);
	const coldLoginMs = ms(c0);
	await first.registerKey(keyPair, 'spyder-remote-bench');
	await first.close();

	log(`login cost: ${LOGINS} of each kind`);
	const logins = await measureLogins(daemon, user, keyPair);
	log(`idle sessions: up to ${SESSIONS}`);
	const idle = await measureIdle(daemon, user, keyPair);

	log(`descriptor limit: a daemon under prlimit --nofile=${NOFILE}:${NOFILE}`);
	const limited = await startDaemon(tmp, 'limited', cleanups, ['prlimit', `--nofile=${NOFILE}:${NOFILE}`, '--']);
	// Its session host starts on the first login, which is the first of the count.
	const limit = await measureLimit(limited, user, keyPair);

	return {
		environment: machine({ user: user.name }),
		parameters: { logins: LOGINS, sessions: SESSIONS, nofile: NOFILE, loginsInFlight: IN_FLIGHT },
		coldFirstLoginMs: round(coldLoginMs, 1),
		logins,
		idle,
		limit,
	};
}

await run(main);
