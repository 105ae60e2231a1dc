import koffi from 'koffi';
import { loadLibrary, type NativeFunction } from './native.js';

/**
 * Unix sockets outside libuv, and SCM_RIGHTS descriptor passing, which Node
 * has no API for. A kernel tunnel uses both: the session host connects to
 * the kernel's socket as the user and hands the connected descriptor to the
 * daemon, which then joins it to the TLS connection directly, so tunnel
 * bytes cross one process on the server, not two.
 *
 * These sockets never go through libuv until the daemon wraps the received
 * one in a net.Socket: a libuv read of the byte that carries a descriptor
 * would silently close the descriptor. Every call here is non-blocking, and
 * waiting for a peer is a timer poll: a session host that stops answering
 * (the user can stop their own host) must hold neither the event loop nor a
 * thread-pool thread that PAM and the file system share with every user.
 */

// Linux ABI values (sys/socket.h, asm-generic/socket.h, errno.h); the same on x86-64 and arm64.
export const AF_UNIX = 1;
const SOCK_STREAM = 1;
const SOCK_NONBLOCK = 0o4000;
export const SOCK_CLOEXEC = 0o2000000;
const SOL_SOCKET = 1;
const SCM_RIGHTS = 1;
const SO_TYPE = 3;
const SO_DOMAIN = 39;
const MSG_CTRUNC = 0x8;
const MSG_DONTWAIT = 0x40;
const MSG_NOSIGNAL = 0x4000;
const MSG_CMSG_CLOEXEC = 0x40000000;
const EAGAIN = 11;
const EINTR = 4;
export const ENOENT = 2;
export const ECONNREFUSED = 111;
export const SUN_PATH_BYTES = 108;
/** CMSG_SPACE(sizeof(int)) and CMSG_LEN(sizeof(int)) with 8-byte alignment (LP64). */
const CONTROL_SPACE = 24;
const CONTROL_LENGTH = 20;
/** Poll intervals while a peer has not answered yet: a host normally answers within the first. */
const pollDelaysMs = [0, 1, 1, 2, 4, 8, 16, 32];

export class DescriptorError extends Error {
	override name = 'DescriptorError';

	/** The C errno of the call that failed, when one did. */
	constructor(
		message: string,
		readonly errno?: number,
	) {
		super(message);
	}
}

interface Bindings {
	socket: NativeFunction;
	connect: NativeFunction;
	send: NativeFunction;
	recv: NativeFunction;
	sendmsg: NativeFunction;
	recvmsg: NativeFunction;
	getsockopt: NativeFunction;
	close: NativeFunction;
}

let bindings: Bindings | undefined;

function load(): Bindings {
	if (bindings) return bindings;
	const libc = loadLibrary('libc.so.6');
	const iovec = koffi.struct({ iov_base: 'void *', iov_len: 'size_t' });
	const msghdr = koffi.struct({
		msg_name: 'void *',
		msg_namelen: 'uint32',
		msg_iov: koffi.pointer(iovec),
		msg_iovlen: 'size_t',
		msg_control: 'void *',
		msg_controllen: 'size_t',
		msg_flags: 'int',
	});
	bindings = {
		socket: libc.func('socket', 'int', ['int', 'int', 'int']),
		connect: libc.func('connect', 'int', ['int', 'void *', 'uint32']),
		send: libc.func('send', 'intptr', ['int', 'void *', 'size_t', 'int']),
		recv: libc.func('recv', 'intptr', ['int', 'void *', 'size_t', 'int']),
		sendmsg: libc.func('sendmsg', 'intptr', ['int', koffi.pointer(msghdr), 'int']),
		recvmsg: libc.func('recvmsg', 'intptr', ['int', koffi.inout(koffi.pointer(msghdr)), 'int']),
		getsockopt: libc.func('getsockopt', 'int', ['int', 'int', 'int', 'void *', koffi.inout(koffi.pointer('uint32'))]),
		close: libc.func('close', 'int', ['int']),
	};
	return bindings;
}

function failure(call: string, errno = koffi.errno()): DescriptorError {
	return new DescriptorError(`${call} failed (errno ${errno})`, errno);
}

/**
 * Calls `attempt` until it returns something other than undefined (it
 * returns undefined for "nothing yet"), polling with short, growing delays
 * until `deadline` (a Date.now() value).
 */
async function untilReady<T>(what: string, deadline: number, attempt: () => T | undefined): Promise<T> {
	for (let round = 0; ; round += 1) {
		const result = attempt();
		if (result !== undefined) return result;
		const delay = pollDelaysMs[Math.min(round, pollDelaysMs.length - 1)]!;
		if (Date.now() + delay > deadline) throw new DescriptorError(`${what}: no answer in time`);
		await new Promise((resolve) => (delay === 0 ? setImmediate(resolve) : setTimeout(resolve, delay)));
	}
}

/** True when the last call failed only because it would have had to wait. */
function wouldWait(): boolean {
	const errno = koffi.errno();
	return errno === EAGAIN || errno === EINTR;
}

/**
 * A non-blocking connection to a Unix stream socket, as the calling
 * process's user. Connecting to a Unix socket does not wait for the peer to
 * accept; a listener whose queue is full is refused at once.
 */
export function connectUnixSocket(path: string): number {
	const b = load();
	const pathBytes = Buffer.from(path);
	if (pathBytes.length >= SUN_PATH_BYTES || pathBytes.includes(0)) throw new DescriptorError(`socket path too long or not a path: ${path}`);
	const address = Buffer.alloc(2 + SUN_PATH_BYTES);
	address.writeUInt16LE(AF_UNIX, 0);
	pathBytes.copy(address, 2);
	const fd = b.socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0) as number;
	if (fd < 0) throw failure('socket');
	if ((b.connect(fd, address, 2 + pathBytes.length + 1) as number) !== 0) {
		const error = failure(`connect ${path}`);
		b.close(fd);
		throw error;
	}
	return fd;
}

/** Writes a short message whole, or throws: a fresh connection always has room for it. */
export function sendAll(fd: number, data: Buffer): void {
	const sent = load().send(fd, data, data.length, MSG_NOSIGNAL | MSG_DONTWAIT) as number;
	if (sent !== data.length) throw failure('send');
}

/** Exactly `length` bytes, or fewer if the peer closed first; throws past `deadline`. */
export async function receiveExactly(fd: number, length: number, deadline: number): Promise<Buffer> {
	const b = load();
	const buffer = Buffer.alloc(length);
	let filled = 0;
	return untilReady('receiving', deadline, () => {
		while (filled < length) {
			const received = b.recv(fd, buffer.subarray(filled), length - filled, MSG_DONTWAIT) as number;
			if (received === 0) break;
			if (received < 0) {
				if (wouldWait()) return undefined;
				throw failure('recv');
			}
			filled += received;
		}
		return buffer.subarray(0, filled);
	});
}

/** Sends one byte carrying `descriptor`; the receiver gets its own copy of it. */
export function sendDescriptor(fd: number, descriptor: number): void {
	const control = Buffer.alloc(CONTROL_SPACE);
	control.writeBigUInt64LE(BigInt(CONTROL_LENGTH), 0);
	control.writeInt32LE(SOL_SOCKET, 8);
	control.writeInt32LE(SCM_RIGHTS, 12);
	control.writeInt32LE(descriptor, 16);
	const message = {
		msg_name: null,
		msg_namelen: 0,
		msg_iov: [{ iov_base: Buffer.from('D'), iov_len: 1 }],
		msg_iovlen: 1,
		msg_control: control,
		msg_controllen: CONTROL_SPACE,
		msg_flags: 0,
	};
	if ((load().sendmsg(fd, message, MSG_NOSIGNAL | MSG_DONTWAIT) as number) !== 1) throw failure('sendmsg');
}

/**
 * Receives the one descriptor a peer sends with sendDescriptor, by
 * `deadline`. Anything else (no descriptor, more than one, other ancillary
 * data) is refused, and whatever arrived is closed. The copy is
 * close-on-exec.
 */
export async function receiveDescriptor(fd: number, deadline: number): Promise<number> {
	const b = load();
	const data = Buffer.alloc(1);
	const control = Buffer.alloc(CONTROL_SPACE);
	// Fresh each attempt: koffi writes the kernel's answer back into the object it is given.
	const newMessage = () => ({
		msg_name: null,
		msg_namelen: 0,
		msg_iov: [{ iov_base: data, iov_len: 1 }],
		msg_iovlen: 1,
		msg_control: control,
		msg_controllen: CONTROL_SPACE,
		msg_flags: 0,
	});
	let message = newMessage();
	const received = await untilReady('waiting for a descriptor', deadline, () => {
		message = newMessage();
		const result = b.recvmsg(fd, message, MSG_DONTWAIT | MSG_CMSG_CLOEXEC) as number;
		if (result < 0 && wouldWait()) return undefined;
		return { result, errno: koffi.errno() };
	});
	if (received.result !== 1)
		throw received.result === 0 ? new DescriptorError('the peer closed without sending a descriptor') : failure('recvmsg', received.errno);
	const carriesOne =
		message.msg_controllen >= CONTROL_LENGTH &&
		Number(control.readBigUInt64LE(0)) === CONTROL_LENGTH &&
		control.readInt32LE(8) === SOL_SOCKET &&
		control.readInt32LE(12) === SCM_RIGHTS;
	const descriptor = carriesOne ? control.readInt32LE(16) : -1;
	if (!carriesOne || (message.msg_flags & MSG_CTRUNC) !== 0) {
		if (descriptor >= 0) b.close(descriptor);
		throw new DescriptorError('the peer sent no descriptor, or more than one');
	}
	return descriptor;
}

/** True for a Unix stream socket: what a kernel channel is, and the only thing the daemon will relay to. */
export function isUnixStreamSocket(fd: number): boolean {
	const b = load();
	const option = (name: number) => {
		const value = Buffer.alloc(4);
		const length = [4];
		return (b.getsockopt(fd, SOL_SOCKET, name, value, length) as number) === 0 ? value.readInt32LE(0) : -1;
	};
	return option(SO_DOMAIN) === AF_UNIX && option(SO_TYPE) === SOCK_STREAM;
}

export function closeDescriptor(fd: number): void {
	load().close(fd);
}
