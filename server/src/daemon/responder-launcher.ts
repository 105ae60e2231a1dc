/**
 * Runs in the daemon: starts the mDNS responder as a child process and stops
 * it. The daemon never reads a packet from the network itself; it hands the
 * responder what to announce and logs the responder's output as opaque lines.
 */
import { hostname } from 'node:os';
import { fileURLToPath } from 'node:url';
import { PROTOCOL_VERSION } from '@spyder-remote/protocol';
import { asUser, logLines, spawnChild, stopChild } from '../common/child-process.js';
import type { ServerConfig } from './config.js';
import { lookupAccount } from './accounts.js';
import type { Logger } from '../common/log.js';
import { SERVER_VERSION } from '../common/version.js';
import type { Announcement } from '../common/announcement.js';

const responderEntry = fileURLToPath(new URL('../bin/ssd-mdns-responder.js', import.meta.url));
/** The responder needs well under a second to say goodbye on every link. */
const STOP_GRACE_MS = 3000;

export interface ResponderProcessOptions {
	/** System mode: the responder runs as `user`, never as root. */
	readonly system: boolean;
	readonly user: string;
	readonly announcement: Announcement;
	readonly logger: Logger;
}

export interface ResponderProcess {
	/** Sends goodbyes (the responder does, on SIGTERM) and waits for the process to end. */
	stop(): Promise<void>;
}

export async function startResponderProcess(options: ResponderProcessOptions): Promise<ResponderProcess> {
	const command = [process.execPath, responderEntry];
	let file: string;
	let args: string[];
	if (options.system) {
		const account = await lookupAccount(options.user);
		if (!account) throw new Error(`discovery.user ${options.user} does not exist`);
		if (account.uid === 0) throw new Error(`discovery.user ${options.user} is root; the responder must not run as root`);
		[file, ...args] = asUser(account, 'service', command) as [string, ...string[]];
	} else {
		[file, ...args] = command as [string, ...string[]];
	}
	const logger = options.logger.child({ component: 'discovery' });
	const child = spawnChild(file, args, {
		// stdin stays open: its end tells the responder that the daemon is gone.
		stdin: 'pipe',
		stdout: 'ignore',
		buffer: false,
		reject: false,
		cleanup: true,
		cwd: '/',
		extendEnv: !options.system,
		env: {},
	});
	child.stdin!.on('error', () => undefined);
	child.stdin!.write(`${JSON.stringify(options.announcement)}\n`);
	logLines(child.stderr!, logger, 'discovery responder output');
	void child.then((result) => logger.info({ exitCode: result.exitCode, signal: result.signal }, 'discovery responder exited'));
	logger.info({ responderPid: child.pid, user: options.system ? options.user : undefined }, 'discovery responder started');
	return { stop: () => stopChild(child, STOP_GRACE_MS) };
}

export interface ListeningServer {
	readonly system: boolean;
	/** The address the listener is bound to, e.g. `0.0.0.0` or `198.18.0.1`. */
	readonly listenAddress: string;
	readonly port: number;
	readonly fingerprint: string;
}

/**
 * Starts announcing the listening server when `discovery.enabled`. Discovery
 * is a convenience: if the responder cannot start, the server still serves,
 * and the log says why.
 */
export async function startDiscovery(config: ServerConfig, server: ListeningServer, logger: Logger): Promise<ResponderProcess | undefined> {
	if (!config.discovery.enabled) return undefined;
	const announcement: Announcement = {
		instanceName: config.discovery.instanceName ?? (hostname().split('.')[0]!.slice(0, 63) || 'spyder-remote'),
		port: server.port,
		listenAddress: server.listenAddress,
		interfaces: config.discovery.interfaces,
		protocolVersion: PROTOCOL_VERSION,
		serverVersion: SERVER_VERSION,
		fingerprint: server.fingerprint,
		authMethods: config.auth.methods,
		os: process.platform,
		logLevel: config.logLevel,
	};
	try {
		return await startResponderProcess({ system: server.system, user: config.discovery.user, announcement, logger });
	} catch (error) {
		logger.error({ err: (error as Error).message }, 'discovery is off: the mDNS responder did not start');
		return undefined;
	}
}
