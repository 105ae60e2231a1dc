import koffi from 'koffi';
import { callAsync, loadLibrary, type NativeFunction } from './native.js';

/**
 * Unix sockets outside libuv, and SCM_RIGHTS descriptor passing, which Node
 * has no API for. A kernel tunnel uses both: the session host connects to
 * the kernel's socket as the user and hands the connected descriptor to the
 * daemon, which then joins it to the TLS connection directly, so tunnel
 * bytes cross one process on the server, not two.
 *
 * These sockets never go through libuv until the daemon wraps the received
 * one in a net.Socket: a libuv read of the byte that carries a descriptor
 * would silently close the descriptor.
 */

// Linux ABI values (sys/socket.h, asm-generic/socket.h); the same on x86-64 and arm64.
const AF_UNIX = 1;
const SOCK_STREAM = 1;
const SOCK_CLOEXEC = 0o2000000;
const SOL_SOCKET = 1;
const SCM_RIGHTS = 1;
const SO_TYPE = 3;
const SO_RCVTIMEO = 20;
const SO_DOMAIN = 39;
const MSG_CTRUNC = 0x8;
const MSG_WAITALL = 0x100;
const MSG_NOSIGNAL = 0x4000;
const MSG_CMSG_CLOEXEC = 0x40000000;
const SUN_PATH_BYTES = 108;
/** CMSG_SPACE(sizeof(int)) and CMSG_LEN(sizeof(int)) with 8-byte alignment (LP64). */
const CONTROL_SPACE = 24;
const CONTROL_LENGTH = 20;

export class DescriptorError extends Error {
	override name = 'DescriptorError';
}

interface Bindings {
	socket: NativeFunction;
	connect: NativeFunction;
	send: NativeFunction;
	recv: NativeFunction;
	sendmsg: NativeFunction;
	recvmsg: NativeFunction;
	setsockopt: NativeFunction;
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
		setsockopt: libc.func('setsockopt', 'int', ['int', 'int', 'int', 'void *', 'uint32']),
		getsockopt: libc.func('getsockopt', 'int', ['int', 'int', 'int', 'void *', koffi.inout(koffi.pointer('uint32'))]),
		close: libc.func('close', 'int', ['int']),
	};
	return bindings;
}

function failure(call: string): DescriptorError {
	return new DescriptorError(`${call} failed (errno ${koffi.errno()})`);
}

/**
 * A blocking connection to a Unix stream socket, as the calling process's
 * user. Connecting to a Unix socket does not wait for the peer to accept.
 */
export function connectUnixSocket(path: string): number {
	const b = load();
	const pathBytes = Buffer.from(path);
	if (pathBytes.length >= SUN_PATH_BYTES || pathBytes.includes(0)) throw new DescriptorError(`socket path too long or not a path: ${path}`);
	const address = Buffer.alloc(2 + SUN_PATH_BYTES);
	address.writeUInt16LE(AF_UNIX, 0);
	pathBytes.copy(address, 2);
	const fd = b.socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0) as number;
	if (fd < 0) throw failure('socket');
	if ((b.connect(fd, address, 2 + pathBytes.length + 1) as number) !== 0) {
		const error = failure(`connect ${path}`);
		b.close(fd);
		throw error;
	}
	return fd;
}

/** Bounds every later blocking receive on `fd`, so a silent peer cannot hold a thread forever. */
export function setReceiveTimeout(fd: number, timeoutMs: number): void {
	const timeval = Buffer.alloc(16);
	timeval.writeBigInt64LE(BigInt(Math.floor(timeoutMs / 1000)), 0);
	timeval.writeBigInt64LE(BigInt((timeoutMs % 1000) * 1000), 8);
	if ((load().setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, timeval, 16) as number) !== 0) throw failure('setsockopt(SO_RCVTIMEO)');
}

/** Exactly `length` bytes, or fewer if the peer closed or the receive timeout passed. */
export async function receiveExactly(fd: number, length: number): Promise<Buffer> {
	const buffer = Buffer.alloc(length);
	const received = await callAsync(load().recv, fd, buffer, length, MSG_WAITALL);
	return buffer.subarray(0, Math.max(0, received));
}

/** Writes a short message whole on a blocking socket, or throws. */
export function sendAll(fd: number, data: Buffer): void {
	const sent = load().send(fd, data, data.length, MSG_NOSIGNAL) as number;
	if (sent !== data.length) throw failure('send');
}

/** Sends one byte carrying `descriptor`; the receiver gets its own copy of it. */
export function sendDescriptor(fd: number, descriptor: number): void {
	const control = Buffer.alloc(CONTROL_SPACE);
	control.writeBigUInt64LE(BigInt(CONTROL_LENGTH), 0);
	control.writeInt32LE(SOL_SOCKET, 8);
	control.writeInt32LE(SCM_RIGHTS, 12);
	control.writeInt32LE(descriptor, 16);
	const message = { msg_name: null, msg_namelen: 0, msg_iov: [{ iov_base: Buffer.from('D'), iov_len: 1 }], msg_iovlen: 1, msg_control: control, msg_controllen: CONTROL_SPACE, msg_flags: 0 };
	if ((load().sendmsg(fd, message, MSG_NOSIGNAL) as number) !== 1) throw failure('sendmsg');
}

/**
 * Receives the one descriptor a peer sends with sendDescriptor. Anything
 * else (no descriptor, more than one, other ancillary data) is refused, and
 * whatever arrived is closed. The copy is close-on-exec.
 */
export async function receiveDescriptor(fd: number): Promise<number> {
	const b = load();
	const data = Buffer.alloc(1);
	const control = Buffer.alloc(CONTROL_SPACE);
	const message = { msg_name: null, msg_namelen: 0, msg_iov: [{ iov_base: data, iov_len: 1 }], msg_iovlen: 1, msg_control: control, msg_controllen: CONTROL_SPACE, msg_flags: 0 };
	const received = await callAsync(b.recvmsg, fd, message, MSG_CMSG_CLOEXEC);
	if (received !== 1) throw new DescriptorError(received === 0 ? 'the peer closed without sending a descriptor' : `recvmsg failed (errno ${koffi.errno()})`);
	const carriesOne = message.msg_controllen >= CONTROL_LENGTH && Number(control.readBigUInt64LE(0)) === CONTROL_LENGTH && control.readInt32LE(8) === SOL_SOCKET && control.readInt32LE(12) === SCM_RIGHTS;
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
