import { randomBytes, timingSafeEqual } from 'node:crypto';
import { chmod, chown, lstat, mkdir, rm } from 'node:fs/promises';
import { Socket } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa, type ResultPromise } from 'execa';
import { asUser, logLines, stopChild } from '../common/child-process.js';
import { closeDescriptor, connectUnixSocket, isUnixStreamSocket, receiveDescriptor, receiveExactly, sendAll } from '../common/descriptor-passing.js';
import { HOST_GREETING, TUNNEL_PREFIX, type SessionHostSettings } from '../common/host-settings.js';
import type { Logger } from '../log.js';
import type { Account } from './accounts.js';

/** The session host's entry point, beside this module in the build. */
const hostEntry = fileURLToPath(new URL('../session-host/main.js', import.meta.url));
/** Longer than a host needs to stop its kernels (shutdown_request, SIGTERM and SIGKILL at 2 s each). */
const stopGraceMs = 10_000;

export interface SessionHostOptions {
	readonly system: boolean;
	readonly runtimeDir: string;
	readonly startTimeoutMs: number;
	readonly settings: SessionHostSettings;
	readonly logger: Logger;
}

interface HostProcess {
	child: ResultPromise | undefined;
	socketPath: string;
	/**
	 * Given to the host on its stdin and sent back by it first on every
	 * connection. The socket lives in a directory the user owns, so the user
	 * could swap it for a link to another user's host; the daemon, as root,
	 * would follow it. Only the genuine host knows this secret.
	 */
	readonly secret: string;
	ready: Promise<void>;
	exited: boolean;
}

export class SessionHostError extends Error {
	override name = 'SessionHostError';
}

/**
 * Starts and reuses one session host per user. In system mode the host is
 * started through setpriv as the user (uid, gid, supplementary groups, clean
 * environment); the daemon then only connects to its socket and relays bytes.
 */
export class SessionHosts {
	private readonly hosts = new Map<number, HostProcess>();

	constructor(private readonly options: SessionHostOptions) {}

	/** A fresh connection to the user's session host, starting the host if needed. */
	async connect(account: Account): Promise<Socket> {
		const host = this.running(account.uid) ?? this.start(account);
		await host.ready;
		try {
			return await connectTo(host);
		} catch {
			// The host may have been exiting for idleness just as we connected: start a new one once.
			this.stopHost(host);
			const fresh = this.start(account);
			await fresh.ready;
			return connectTo(fresh);
		}
	}

	/**
	 * Presents a tunnel token line to the user's running host (never starts
	 * one) and returns the kernel socket the host connected to and handed
	 * over, or undefined when there is no host or it refused the token.
	 */
	async openTunnel(uid: number, tokenLine: string): Promise<Socket | undefined> {
		const host = this.running(uid);
		if (!host) return undefined;
		await host.ready;
		return receiveKernelSocket(host, tokenLine).catch(() => undefined);
	}

	get count(): number {
		return [...this.hosts.values()].filter((host) => !host.exited).length;
	}

	async stopAll(): Promise<void> {
		await Promise.all([...this.hosts.values()].map((host) => this.stopHost(host)));
	}

	private running(uid: number): HostProcess | undefined {
		const host = this.hosts.get(uid);
		return host && !host.exited ? host : undefined;
	}

	private start(account: Account): HostProcess {
		const logger = this.options.logger.child({ user: account.name, component: 'session-host' });
		const host: HostProcess = { child: undefined, socketPath: '', secret: randomBytes(32).toString('hex'), ready: Promise.resolve(), exited: false };
		host.ready = this.launch(host, account, logger);
		this.hosts.set(account.uid, host);
		host.ready.then(
			async () => {
				const result = await host.child!;
				host.exited = true;
				if (this.hosts.get(account.uid) === host) this.hosts.delete(account.uid);
				logger.info({ exitCode: result.exitCode, signal: result.signal }, 'session host exited');
			},
			(error: Error) => {
				logger.error({ err: error.message }, 'session host failed to start');
				void this.stopHost(host);
			},
		);
		return host;
	}

	private async launch(host: HostProcess, account: Account, logger: Logger): Promise<void> {
		const directory = this.options.system ? await prepareUserDirectory(this.options.runtimeDir, account) : await preparePrivateDirectory(this.options.runtimeDir);
		// A fresh name per host: an old host still exiting can then never remove its successor's socket.
		host.socketPath = join(directory, `host-${randomBytes(6).toString('hex')}.sock`);
		const hostCommand = [process.execPath, hostEntry, '--socket', host.socketPath, '--settings', JSON.stringify(this.options.settings)];
		const [file, ...args] = this.options.system ? asUser(account, 'login', hostCommand) : hostCommand;
		const child = execa(file!, args, {
			input: `${host.secret}\n`,
			buffer: false,
			reject: false,
			cleanup: true,
			// Root's working directory may be closed to the user; the host moves to its home itself.
			cwd: '/',
			extendEnv: !this.options.system,
			env: {},
		});
		host.child = child;
		// Host output is the user's text: the daemon keeps it as opaque, bounded lines and never parses it.
		const stderrTail = logLines(child.stderr!, logger, 'session host output');
		await new Promise<void>((resolve, reject) => {
			const timer = setTimeout(() => reject(new SessionHostError(`session host for ${account.name} did not start within ${this.options.startTimeoutMs} ms`)), this.options.startTimeoutMs);
			let stdout = '';
			child.stdout!.on('data', (chunk: Buffer) => {
				stdout = (stdout + chunk.toString('latin1')).slice(-64);
				if (stdout.includes('ready\n')) {
					clearTimeout(timer);
					resolve();
				}
			});
			void child.then((result) => {
				clearTimeout(timer);
				reject(new SessionHostError(`session host for ${account.name} exited (${result.signal ?? result.exitCode}) before it was ready: ${stderrTail.slice(-15).join(' | ')}`));
			});
		});
		logger.info({ pid: child.pid }, 'session host started');
	}

	private async stopHost(host: HostProcess): Promise<void> {
		host.exited = true;
		for (const [uid, entry] of this.hosts) if (entry === host) this.hosts.delete(uid);
		const child = host.child;
		if (!child) return;
		await stopChild(child, stopGraceMs);
	}
}

const greetingTimeoutMs = 5_000;

/**
 * A connection to a host's socket, as a bare descriptor, accepted only if
 * the host greets with its own secret. The user controls what answers at
 * this path, so nothing is written before the greeting proves it is their
 * host. Kept out of libuv (see descriptor-passing.ts), so the tunnel
 * hand-over can receive a descriptor on it; a JSON-RPC session wraps it.
 */
async function connectVerified(host: HostProcess, deadline: number): Promise<number> {
	const expected = Buffer.from(`${HOST_GREETING}${host.secret}\n`);
	const connection = connectUnixSocket(host.socketPath);
	try {
		const greeting = await receiveExactly(connection, expected.length, deadline);
		if (greeting.length !== expected.length || !timingSafeEqual(greeting, expected)) throw new SessionHostError('the socket did not answer as this user\'s session host');
		return connection;
	} catch (error) {
		closeDescriptor(connection);
		throw error;
	}
}

/** A connection for one relayed JSON-RPC session. */
async function connectTo(host: HostProcess): Promise<Socket> {
	return new Socket({ fd: await connectVerified(host, Date.now() + greetingTimeoutMs), readable: true, writable: true });
}

/**
 * The daemon's half of a tunnel hand-over: send the token line, take the
 * one descriptor back. Only a Unix stream socket is accepted; it is what
 * the host connected to as the user, so relaying to it gives the client
 * nothing the user could not reach.
 */
async function receiveKernelSocket(host: HostProcess, tokenLine: string): Promise<Socket> {
	const deadline = Date.now() + greetingTimeoutMs;
	const connection = await connectVerified(host, deadline);
	try {
		sendAll(connection, Buffer.from(`${TUNNEL_PREFIX}${tokenLine}\n`, 'latin1'));
		const kernel = await receiveDescriptor(connection, deadline);
		if (!isUnixStreamSocket(kernel)) {
			closeDescriptor(kernel);
			throw new SessionHostError('the session host handed over something other than a Unix stream socket');
		}
		return new Socket({ fd: kernel, readable: true, writable: true });
	} finally {
		closeDescriptor(connection);
	}
}

/** A directory that must be root's, not a symlink, and searchable but not listable by others. */
async function ensureRootDirectory(path: string): Promise<void> {
	await mkdir(path, { recursive: true, mode: 0o711 });
	const stat = await lstat(path);
	if (!stat.isDirectory() || stat.uid !== 0) throw new SessionHostError(`${path} must be a directory owned by root`);
	await chmod(path, 0o711);
}

/**
 * `<runtimeDir>/sessions/<uid>`, owned by the user, mode 0700. Anything else
 * found there (wrong owner, wrong mode, a symlink) is removed first; users
 * cannot create entries in the root-owned parent, so nothing races this.
 */
async function prepareUserDirectory(runtimeDir: string, account: Account): Promise<string> {
	await ensureRootDirectory(runtimeDir);
	const sessions = join(runtimeDir, 'sessions');
	await ensureRootDirectory(sessions);
	const directory = join(sessions, String(account.uid));
	const stat = await lstat(directory).catch(() => undefined);
	if (stat && (!stat.isDirectory() || stat.uid !== account.uid || stat.gid !== account.gid || (stat.mode & 0o777) !== 0o700)) {
		await rm(directory, { recursive: true, force: true });
	}
	if (!stat || !(await lstat(directory).catch(() => undefined))) {
		await mkdir(directory, { mode: 0o700 });
		await chown(directory, account.uid, account.gid);
	}
	return directory;
}

async function preparePrivateDirectory(path: string): Promise<string> {
	await mkdir(path, { recursive: true, mode: 0o700 });
	const stat = await lstat(path);
	if (!stat.isDirectory() || stat.uid !== process.getuid!()) throw new SessionHostError(`${path} must be a directory owned by the server's user`);
	await chmod(path, 0o700);
	return path;
}
