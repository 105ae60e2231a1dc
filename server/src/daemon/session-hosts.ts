import { randomBytes, timingSafeEqual } from 'node:crypto';
import { constants } from 'node:fs';
import { lstat, mkdir, open, rename } from 'node:fs/promises';
import { Socket } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ResultPromise } from 'execa';
import { asUser, logLines, spawnChild, stopChild } from '../common/child-process.js';
import { closeDescriptor, connectUnixSocket, isUnixStreamSocket, receiveDescriptor, receiveExactly, sendAll } from '../common/descriptor-passing.js';
import { HAND_OVER_SIGNAL, HOST_GREETING, type SessionHostSettings } from '../common/host-wire.js';
import type { Logger } from '../common/log.js';
import type { Account } from './accounts.js';

/** The session host's entry point, beside this module in the build. */
const hostEntry = fileURLToPath(new URL('../bin/ssd-session-host.js', import.meta.url));
/** Longer than a host needs to stop its kernels (shutdown_request, SIGTERM and SIGKILL at 2 s each). */
const stopGraceMs = 10_000;

export interface SessionHostOptions {
	readonly system: boolean;
	readonly runtimeDir: string;
	readonly startTimeoutMs: number;
	readonly settings: SessionHostSettings;
	readonly logger: Logger;
	/**
	 * Opens the login session (PAM's) that a host's whole life runs in; it is
	 * closed once the host has exited. A failure keeps the host from starting.
	 */
	readonly openLoginSession?: (account: Account) => Promise<LoginSession>;
}

export interface LoginSession {
	close(): Promise<void>;
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
	loginSession: LoginSession | undefined;
	/** Settles once the process is gone and its login session closed, however it ended. */
	finished: Promise<void>;
}

export class SessionHostError extends Error {
	override name = 'SessionHostError';
}

/** What answered at a host's socket did not greet with the host's secret: the user may have put something else there. */
export class NotTheHostError extends SessionHostError {
	override name = 'NotTheHostError';
}

/**
 * Starts and reuses one session host per user. In system mode the host is
 * started through setpriv as the user (uid, gid, supplementary groups, clean
 * environment); the daemon then only connects to its socket and relays bytes.
 */
export class SessionHosts {
	private readonly hosts = new Map<number, HostProcess>();
	/** Every host not yet finished, including those already out of `hosts` because they are exiting. */
	private readonly unfinished = new Set<HostProcess>();

	constructor(private readonly options: SessionHostOptions) {}

	/**
	 * A fresh connection to the user's session host, starting the host if
	 * needed. `logger` is the client connection's, so that a failure is
	 * logged with its peer.
	 */
	async connect(account: Account, logger: Logger): Promise<Socket> {
		const host = this.running(account.uid) ?? this.start(account);
		await host.ready;
		try {
			return await connectTo(host);
		} catch (error) {
			// The host may have been exiting for idleness just as we connected: start a new one once.
			// A socket that did not greet as the host is no race: something else answers at the user's path.
			const level = error instanceof NotTheHostError ? 'warn' : 'info';
			logger[level]({ user: account.name, uid: account.uid, reason: (error as Error).message }, 'cannot connect to the session host; starting a new one');
			void this.stopHost(host);
			const fresh = this.start(account);
			await fresh.ready;
			return connectTo(fresh);
		}
	}

	/**
	 * Presents a hand-over line (`TUNNEL <token>`, or `NODE <peer> <token>`
	 * for a node agent) to the user's running host (never starts
	 * one) and returns the kernel socket the host connected to and handed
	 * over. Throws, with the reason, when no host runs for the uid, when the
	 * socket does not greet as the host, or when the host refuses the token.
	 */
	async openTunnel(uid: number, handOverLine: string): Promise<Socket> {
		const host = this.running(uid);
		if (!host) throw new SessionHostError('no session host runs for that uid');
		await host.ready;
		return receiveKernelSocket(host, handOverLine);
	}

	get count(): number {
		return [...this.hosts.values()].filter((host) => !host.exited).length;
	}

	/**
	 * Stops every host and waits for those already exiting, so that no login
	 * session closes after this resolves. With `handOver` (a daemon restart),
	 * each host exits leaving its kernels running for the next daemon's host.
	 */
	async stopAll({ handOver = false } = {}): Promise<void> {
		await Promise.all([...this.hosts.values()].map((host) => this.stopHost(host, handOver ? HAND_OVER_SIGNAL : 'SIGTERM')));
		await Promise.all([...this.unfinished].map((host) => host.finished));
	}

	private running(uid: number): HostProcess | undefined {
		const host = this.hosts.get(uid);
		return host && !host.exited ? host : undefined;
	}

	private start(account: Account): HostProcess {
		const logger = this.options.logger.child({ user: account.name, component: 'session-host' });
		const host: HostProcess = {
			child: undefined,
			socketPath: '',
			secret: randomBytes(32).toString('hex'),
			ready: Promise.resolve(),
			exited: false,
			loginSession: undefined,
			finished: Promise.resolve(),
		};
		host.ready = this.launch(host, account, logger);
		this.hosts.set(account.uid, host);
		this.unfinished.add(host);
		host.finished = host.ready
			.then(
				async () => {
					const result = await host.child!;
					host.exited = true;
					if (this.hosts.get(account.uid) === host) this.hosts.delete(account.uid);
					logger.info({ exitCode: result.exitCode, signal: result.signal }, 'session host exited');
					await closeLoginSession(host, logger);
				},
				async (error: Error) => {
					logger.error({ err: error.message }, 'session host failed to start');
					await this.stopHost(host);
				},
			)
			.finally(() => this.unfinished.delete(host));
		return host;
	}

	private async launch(host: HostProcess, account: Account, logger: Logger): Promise<void> {
		// First, as sshd does: session modules (pam_mkhomedir, say) may prepare what the host needs.
		host.loginSession = await this.options.openLoginSession?.(account);
		const directory = this.options.system
			? await prepareUserDirectory(this.options.runtimeDir, account, logger)
			: await preparePrivateDirectory(this.options.runtimeDir);
		// A fresh name per host: an old host still exiting can then never remove its successor's socket.
		host.socketPath = join(directory, `host-${randomBytes(6).toString('hex')}.sock`);
		const hostCommand = [process.execPath, hostEntry, '--socket', host.socketPath, '--settings', JSON.stringify(this.options.settings)];
		const [file, ...args] = this.options.system ? asUser(account, 'login', hostCommand) : hostCommand;
		const child = spawnChild(file!, args, {
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
			const timer = setTimeout(
				() => reject(new SessionHostError(`session host for ${account.name} did not start within ${this.options.startTimeoutMs} ms`)),
				this.options.startTimeoutMs,
			);
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
				reject(
					new SessionHostError(
						`session host for ${account.name} exited (${result.signal ?? result.exitCode}) before it was ready: ${stderrTail.slice(-15).join(' | ')}`,
					),
				);
			});
		});
		logger.info({ pid: child.pid }, 'session host started');
	}

	private async stopHost(host: HostProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
		host.exited = true;
		for (const [uid, entry] of this.hosts) if (entry === host) this.hosts.delete(uid);
		// A host still starting is let finish (or fail) first: only then do its process and login session exist to be ended.
		await host.ready.catch(() => undefined);
		const child = host.child;
		if (child) await stopChild(child, stopGraceMs, signal);
		await closeLoginSession(host, this.options.logger);
	}
}

/** Ends the host's login session once its process is gone; a second call finds nothing to close. */
async function closeLoginSession(host: HostProcess, logger: Logger): Promise<void> {
	const session = host.loginSession;
	host.loginSession = undefined;
	await session?.close().catch((error: Error) => logger.error({ err: error.message }, 'closing the login session failed'));
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
		if (greeting.length !== expected.length || !timingSafeEqual(greeting, expected))
			throw new NotTheHostError("the socket did not answer as this user's session host");
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
async function receiveKernelSocket(host: HostProcess, handOverLine: string): Promise<Socket> {
	const deadline = Date.now() + greetingTimeoutMs;
	const connection = await connectVerified(host, deadline);
	try {
		sendAll(connection, Buffer.from(`${handOverLine}\n`, 'latin1'));
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
	await repairDirectory(path, 0, undefined, 0o711);
}

/**
 * `<runtimeDir>/sessions/<uid>`, owned by the user, mode 0700.
 *
 * The user owns it and can chmod, chgrp and fill it at will, so root never
 * acts on it by path and never looks inside: its mode and group are repaired
 * through a descriptor (fchown, fchmod) that was opened without following a
 * link. What it holds is the user's business: removing it as root by path
 * would let a user who swaps a subdirectory for a symlink at the right
 * moment make root delete any directory. The entry itself is safe to handle
 * by name: users cannot create, rename or remove entries in the root-owned
 * 0711 `sessions/`.
 *
 * Something there that is not a directory of this uid was not made for this
 * account by this daemon (a link or a file, or the directory of an account
 * that had the uid before, or one left root's by a start that was
 * interrupted before the chown). It is renamed aside within `sessions/`,
 * not removed, since its contents may be another user's tree, and a fresh
 * directory is made; the warning names it for the administrator.
 */
async function prepareUserDirectory(runtimeDir: string, account: Account, logger: Logger): Promise<string> {
	await ensureRootDirectory(runtimeDir);
	const sessions = join(runtimeDir, 'sessions');
	await ensureRootDirectory(sessions);
	const directory = join(sessions, String(account.uid));
	const found = await lstat(directory).catch((error: NodeJS.ErrnoException) => {
		if (error.code === 'ENOENT') return undefined;
		throw error;
	});
	const foreign = found !== undefined && (!found.isDirectory() || found.uid !== account.uid);
	if (foreign) {
		const aside = join(sessions, `${account.uid}.aside-${randomBytes(4).toString('hex')}`);
		await rename(directory, aside);
		logger.warn(
			{ directory, aside, uid: found.uid, kind: found.isDirectory() ? 'directory' : 'not a directory' },
			"the user runtime directory was not this account's; moved it aside",
		);
	}
	if (!found || foreign) await mkdir(directory, { mode: 0o700 });
	await repairDirectory(directory, account.uid, account.gid, 0o700);
	return directory;
}

async function preparePrivateDirectory(path: string): Promise<string> {
	await mkdir(path, { recursive: true, mode: 0o700 });
	await repairDirectory(path, process.getuid!(), undefined, 0o700);
	return path;
}

/**
 * Gives a directory its owner, group and mode through a descriptor opened
 * with O_NOFOLLOW, so that what was checked is what is changed. A directory
 * not owned by `uid` (or by root, when it is to become the user's: freshly
 * made) is refused. `gid` undefined leaves the group alone.
 */
async function repairDirectory(path: string, uid: number, gid: number | undefined, mode: number): Promise<void> {
	const handle = await open(path, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW).catch((error: NodeJS.ErrnoException) => {
		throw new SessionHostError(`${path} must be a directory (${error.code ?? error.message})`);
	});
	try {
		const stat = await handle.stat();
		if (stat.uid !== uid && !(stat.uid === 0 && gid !== undefined)) throw new SessionHostError(`${path} must be a directory owned by uid ${uid}`);
		// chown first: it clears set-id bits, and the chmod then sets the mode exactly.
		if (stat.uid !== uid || (gid !== undefined && stat.gid !== gid)) await handle.chown(uid, gid ?? stat.gid);
		if ((stat.mode & 0o7777) !== mode) await handle.chmod(mode);
	} finally {
		await handle.close();
	}
}
