/**
 * The session host: one per logged-in user, running as that user. The
 * daemon connects to its socket once per client connection and relays the
 * client's bytes; everything after login is served here.
 */
import { lstat, readdir, unlink } from 'node:fs/promises';
import { createServer, type Socket } from 'node:net';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { HAND_OVER_SIGNAL, HOST_GREETING, TUNNEL_PREFIX, type SessionHostSettings } from '../common/host-wire.js';
import { HOST_SOCKET_NAME } from '../common/runtime-layout.js';
import { createLogger } from '../common/log.js';
import { describeSelf } from '../session-host/identity.js';
import { EnvironmentAdmin } from '../session-host/environments/admin.js';
import { EnvironmentCatalog } from '../session-host/environments/catalog.js';
import { broadcastChanges } from '../session-host/environments/handlers.js';
import { handlers } from '../session-host/handlers.js';
import { KernelManager } from '../session-host/kernels/manager.js';
import { serveTunnel, TunnelTokens } from '../session-host/kernels/tunnel.js';
import { AgentLinks } from '../session-host/kernels/slurm/agent-links.js';
import { SlurmKernels } from '../session-host/kernels/slurm/slurm-kernels.js';
import { NODE_PREFIX } from '../common/node-link.js';
import { ClientSession, type SessionServices } from '../session-host/session.js';

const { values } = parseArgs({ options: { socket: { type: 'string' }, settings: { type: 'string' } } });
if (!values.socket || !values.settings) {
	process.stderr.write('usage: session-host --socket PATH --settings JSON (started by ssd-server, not by hand)\n');
	process.exit(2);
}
const socketPath = values.socket;
// The daemon hands the host a secret on stdin (never argv, which every user can read in ps) and checks it on each connection.
const secret = (await readDaemonSecret()).trim();
// Written by the daemon from its validated config: trusted, so parsed without a second schema check.
const settings = JSON.parse(values.settings) as SessionHostSettings;
const idleTimeoutMs = settings.idleTimeout * 1000;

try {
	process.chdir(homedir());
} catch {
	// A user without a usable home still gets a session; relative paths then start at /.
}
process.umask(0o077);

const identity = await describeSelf();
const logger = createLogger(settings.logLevel, { component: 'session-host', user: identity.user });
const catalog = new EnvironmentCatalog(settings.environments, identity.home, logger);
const sessions = new Set<ClientSession>();
const broadcast = (method: string, params: unknown) => {
	// Fails only for a session whose client is gone; the others still get it.
	for (const session of sessions) void session.connection.sendNotification(method, params).catch(() => undefined);
};
const agentLinks = new AgentLinks(identity.uid, logger);
const slurm = new SlurmKernels(settings.slurm, settings.nodeAgentDial, agentLinks, broadcast, logger);
const kernels = new KernelManager({
	runtimeDirectory: dirname(socketPath),
	home: identity.home,
	catalog,
	logger,
	broadcast,
	leaseMs: settings.kernelLease * 1000,
	onEmpty: () => armIdleTimer(),
	warmPool: settings.warmPool,
	slurm,
});
const tunnels = new TunnelTokens(identity.uid);
const services: SessionServices = {
	logger,
	limits: settings.limits,
	identity,
	keyRegistration: settings.keyRegistration,
	catalog,
	admin: new EnvironmentAdmin(settings.environments, catalog, identity.uid),
	kernels,
	tunnels,
	slurm,
	sessions,
};
catalog.onChange(broadcastChanges(services));

const sockets = new Set<Socket>();
let idleTimer: NodeJS.Timeout | undefined;
/** The host leaves when nobody is connected and no kernel runs: kernels keep it alive through their lease. */
function armIdleTimer(): void {
	clearTimeout(idleTimer);
	if (sessions.size === 0 && kernels.count === 0) idleTimer = setTimeout(() => stop('idle'), idleTimeoutMs);
}

/** The daemon opens three kinds of connection here: relayed JSON-RPC sessions, and tunnel and node-agent hand-overs that start with a token line. */
function serveConnection(socket: Socket, first: Buffer): void {
	socket.pause();
	socket.unshift(first);
	if (first.subarray(0, TUNNEL_PREFIX.length).toString('latin1') === TUNNEL_PREFIX) {
		void serveTunnel(socket, tunnels, (id, channel) => kernels.channelPath(id, channel), logger);
		return;
	}
	if (first.subarray(0, NODE_PREFIX.length).toString('latin1') === NODE_PREFIX) {
		void agentLinks.serve(socket);
		return;
	}
	new ClientSession(socket, services, handlers);
	// Paused above to put the first chunk back; a 'data' listener does not undo an explicit pause.
	socket.resume();
	kernels.connectionsChanged(sessions.size);
	armIdleTimer();
	socket.once('close', () => {
		kernels.connectionsChanged(sessions.size);
		armIdleTimer();
	});
}

const server = createServer((socket) => {
	socket.write(`${HOST_GREETING}${secret}\n`);
	sockets.add(socket);
	socket.once('close', () => sockets.delete(socket));
	socket.once('data', (first: Buffer) => serveConnection(socket, first));
});

let stopping = false;
/** Set when the daemon restarts: the kernels then outlive this host, for the next one to adopt. */
let handingOver = false;
function closeConnections(reason: string): void {
	stopping = true;
	logger.info({ reason }, 'session host stopping');
	server.close();
	catalog.close();
	for (const socket of sockets) socket.destroy();
}
function stop(reason: string): void {
	if (stopping) return;
	closeConnections(reason);
	void kernels
		.stopAll()
		.catch((error: Error) => logger.debug({ reason: error.message }, 'stopping the kernels failed; the next host adopts those still running'))
		// Already gone (the directory is the user's to tidy): nothing left to remove.
		.then(() => unlink(socketPath).catch(() => undefined))
		.finally(() => process.exit(0));
}

// An earlier host of this user that died or stopped answering left its kernels running: they are ours now (spec 6.12.4).
await kernels.adoptOrphans();
kernels.connectionsChanged(sessions.size);

// Sockets left by earlier hosts of this user (a crash, a kill) are ours to clear: the daemon runs one host per user.
const socketDirectory = dirname(socketPath);
for (const entry of await readdir(socketDirectory).catch(() => [])) {
	if (!HOST_SOCKET_NAME.test(entry)) continue;
	const path = join(socketDirectory, entry);
	// Vanished meanwhile, or not ours to remove: either way it is no longer in the way.
	if ((await lstat(path).catch(() => undefined))?.isSocket()) await unlink(path).catch(() => undefined);
}

server.listen(socketPath, () => {
	armIdleTimer();
	void kernels.fillWarmPool();
	process.stdout.write('ready\n');
	logger.info({ socket: socketPath }, 'session host ready');
});

/** Leaves at once, kernels running: their records and connection files stay for the next host (kernels/adoption.ts). */
function handOver(): void {
	if (stopping) return;
	handingOver = true;
	closeConnections('the daemon restarts: kernels left running for the next session host');
	void unlink(socketPath)
		.catch(() => undefined)
		.finally(() => process.exit(0));
}

process.on('exit', () => {
	if (!handingOver) kernels.killAllNow();
});
process.on('uncaughtException', (error) => {
	logger.fatal({ err: error.stack ?? error.message }, 'session host crashed');
	process.exit(1);
});
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));
process.on(HAND_OVER_SIGNAL, handOver);
// The daemon owns this process: if it dies without stopping us (SIGKILL, crash), leave too rather than linger as an orphan.
const daemonPid = process.ppid;
setInterval(() => {
	if (process.ppid !== daemonPid) stop('daemon exited');
}, 1000).unref();

/** The secret the daemon writes on our stdin at start, which we send back first on every connection to prove we are its host. */
async function readDaemonSecret(): Promise<string> {
	for await (const line of createInterface({ input: process.stdin })) return line;
	return '';
}
