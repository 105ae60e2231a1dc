import { readFile } from 'node:fs/promises';
import koffi from 'koffi';
import { spawnChild } from '../common/child-process.js';
import { AF_UNIX, SOCK_CLOEXEC, SUN_PATH_BYTES } from '../common/descriptor-passing.js';
import { loadLibrary } from '../common/native.js';

const SOCK_DGRAM = 2;

/**
 * sd_notify(3) without libsystemd: one datagram to the AF_UNIX socket that
 * systemd names in $NOTIFY_SOCKET (a path, or an abstract name written with
 * a leading '@'). Node has no Unix datagram sockets, hence koffi. Returns
 * false when not started by systemd with Type=notify; throws when the
 * socket is named but cannot be written, because systemd then waits for a
 * readiness that never comes and the failure must be seen.
 */
export function notifySystemd(state: string, socketName = process.env.NOTIFY_SOCKET): boolean {
	if (!socketName) return false;
	if (!socketName.startsWith('/') && !socketName.startsWith('@')) throw new Error(`NOTIFY_SOCKET=${socketName} is neither a path nor an abstract name`);
	const name = Buffer.from(socketName);
	// An abstract name starts with a NUL byte in sun_path and is not NUL-terminated.
	if (socketName.startsWith('@')) name[0] = 0;
	if (name.length >= SUN_PATH_BYTES) throw new Error(`NOTIFY_SOCKET is too long: ${socketName}`);
	const address = Buffer.alloc(2 + SUN_PATH_BYTES);
	address.writeUInt16LE(AF_UNIX, 0);
	name.copy(address, 2);
	const addressLength = 2 + name.length + (socketName.startsWith('@') ? 0 : 1);
	const libc = loadLibrary('libc.so.6');
	const socket = libc.func('socket', 'int', ['int', 'int', 'int']);
	const sendto = libc.func('sendto', 'intptr', ['int', 'void *', 'size_t', 'int', 'void *', 'uint32']);
	const close = libc.func('close', 'int', ['int']);
	const fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0) as number;
	if (fd < 0) throw new Error(`socket(AF_UNIX, SOCK_DGRAM) failed (errno ${koffi.errno()})`);
	try {
		const message = Buffer.from(state);
		if ((sendto(fd, message, message.length, 0, address, addressLength) as number) !== message.length)
			throw new Error(`sd_notify to ${socketName} failed (errno ${koffi.errno()})`);
	} finally {
		close(fd);
	}
	return true;
}

/** The service unit this process runs in, from its cgroup (`0::/system.slice/ssd-server.service`); undefined when not one. */
async function ownUnit(): Promise<string | undefined> {
	const cgroup = await readFile('/proc/self/cgroup', 'utf8').catch(() => '');
	return /\/([^/\n]+\.service)$/m.exec(cgroup)?.[1];
}

/**
 * Whether systemd is stopping this service in order to start it again
 * (`systemctl restart`, `try-restart`): its job is then of type `restart`.
 * systemd sends SIGTERM for a stop and a restart alike, and this is the one
 * way to tell them apart. False outside systemd, and when systemctl cannot
 * say: a full stop is the safe default.
 */
export async function restartIsQueued(): Promise<boolean> {
	if (!process.env.INVOCATION_ID) return false;
	const unit = await ownUnit();
	if (!unit) return false;
	const jobs = await spawnChild('systemctl', ['list-jobs', '--no-legend', '--full', '--plain', unit], { reject: false, timeout: 5000 });
	if (jobs.exitCode !== 0) return false;
	// "ID UNIT TYPE STATE" per line.
	return jobs.stdout.split('\n').some((line) => {
		const [, name, type] = line.trim().split(/\s+/);
		return name === unit && type === 'restart';
	});
}
