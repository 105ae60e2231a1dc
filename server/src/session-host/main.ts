/**
 * The session host: one per logged-in user, running as that user. The
 * daemon connects to its socket once per client connection and relays the
 * client's bytes; everything after login is served here.
 */
import { lstat, readdir, unlink } from 'node:fs/promises';
import { createServer, type Socket } from 'node:net';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { createLogger } from '../log.js';
import { describeSelf } from './identity.js';
import { ClientSession } from './session.js';

const { values } = parseArgs({
	options: {
		socket: { type: 'string' },
		'max-message-bytes': { type: 'string', default: String(16 * 1024 * 1024) },
		'max-header-bytes': { type: 'string', default: '8192' },
		'idle-timeout': { type: 'string', default: '300' },
		'log-level': { type: 'string', default: 'info' },
		'no-key-registration': { type: 'boolean', default: false },
	},
});
if (!values.socket) {
	process.stderr.write('usage: session-host --socket PATH [--max-message-bytes N] [--max-header-bytes N] [--idle-timeout S] [--log-level L]\n');
	process.exit(2);
}
const socketPath = values.socket;
const idleTimeoutMs = Number(values['idle-timeout']) * 1000;

try {
	process.chdir(homedir());
} catch {
	// A user without a usable home still gets a session; relative paths then start at /.
}
process.umask(0o077);

const identity = await describeSelf();
const logger = createLogger(values['log-level']!, { component: 'session-host', user: identity.user });
const limits = { maxMessageBytes: Number(values['max-message-bytes']), maxHeaderBytes: Number(values['max-header-bytes']) };

const sockets = new Set<Socket>();
let idleTimer: NodeJS.Timeout | undefined;
const armIdleTimer = () => {
	clearTimeout(idleTimer);
	if (sockets.size === 0) idleTimer = setTimeout(() => stop('idle'), idleTimeoutMs);
};

const server = createServer((socket) => {
	sockets.add(socket);
	armIdleTimer();
	socket.once('close', () => {
		sockets.delete(socket);
		armIdleTimer();
	});
	new ClientSession(socket, { logger, limits, identity, keyRegistration: !values['no-key-registration'] });
});

function stop(reason: string): void {
	logger.info({ reason }, 'session host stopping');
	server.close();
	for (const socket of sockets) socket.destroy();
	void unlink(socketPath).catch(() => undefined).finally(() => process.exit(0));
}

// Sockets left by earlier hosts of this user (a crash, a kill) are ours to clear: the daemon runs one host per user.
const socketDirectory = dirname(socketPath);
for (const entry of await readdir(socketDirectory).catch(() => [])) {
	if (!/^host-[0-9a-f]+\.sock$/.test(entry)) continue;
	const path = join(socketDirectory, entry);
	if ((await lstat(path).catch(() => undefined))?.isSocket()) await unlink(path).catch(() => undefined);
}

server.listen(socketPath, () => {
	armIdleTimer();
	process.stdout.write('ready\n');
	logger.info({ socket: socketPath }, 'session host ready');
});

process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));
// The daemon owns this process: if it dies without stopping us (SIGKILL, crash), leave too rather than linger as an orphan.
const daemonPid = process.ppid;
setInterval(() => {
	if (process.ppid !== daemonPid) stop('daemon exited');
}, 1000).unref();
