/**
 * Just enough ZMTP 3.0 (rfc.zeromq.org/spec/23) for the session host to talk
 * to its own Jupyter kernels: one connection per socket, NULL security, and
 * only the DEALER and SUB roles. A native libzmq binding would be one more
 * compiled dependency to ship for every platform; the kernels' control
 * traffic is small and this is all it needs.
 */
import net from 'node:net';

export type ZmtpSocketType = 'DEALER' | 'SUB';

/** A Unix domain socket path (Jupyter's `ipc` transport) or a TCP address. */
export type ZmtpEndpoint = { readonly path: string } | { readonly host: string; readonly port: number };

export interface ZmtpConnectOptions {
	/** DEALER only: the routing id the peer ROUTER will see, 1-255 bytes, not starting with 0x00. */
	readonly identity?: Buffer;
	/** Upper bound on one incoming multipart message, all frames together. */
	readonly maxMessageBytes?: number;
	/** How long the connection and the greeting/READY exchange may take. */
	readonly handshakeTimeoutMs?: number;
	/** SUB only: the topic prefix to receive; empty (the default) means every message. */
	readonly subscribe?: Buffer;
}

export const defaultMaxMessageBytes = 64 * 1024 * 1024;

export class ZmtpError extends Error {
	constructor(message: string, options?: ErrorOptions) {
		super(message, options);
		this.name = 'ZmtpError';
	}
}

const flagMore = 0x01;
const flagLong = 0x02;
const flagCommand = 0x04;
const greetingBytes = 64;
/** Linux's sun_path holds 108 bytes with the terminating NUL; libzmq refuses longer ipc paths, so would the kernel. */
const maxUnixPathBytes = 107;
/** What each of our roles may be connected to (RFC 23, "socket semantics"). */
const compatiblePeers: Record<ZmtpSocketType, readonly string[]> = { DEALER: ['REP', 'DEALER', 'ROUTER'], SUB: ['PUB', 'XPUB'] };

export interface ZmtpGreeting {
	readonly major: number;
	readonly minor: number;
	readonly mechanism: string;
	readonly asServer: boolean;
}

export type ZmtpEvent =
	| { readonly kind: 'greeting'; readonly greeting: ZmtpGreeting }
	| { readonly kind: 'command'; readonly name: string; readonly data: Buffer }
	| { readonly kind: 'message'; readonly frames: Buffer[] };

/**
 * We announce 3.0, not 3.1: libzmq then speaks 3.0 to us, so subscriptions
 * are plain messages and no 3.1-only commands need handling.
 */
export function encodeGreeting(): Buffer {
	const greeting = Buffer.alloc(greetingBytes);
	greeting[0] = 0xff;
	greeting[9] = 0x7f;
	greeting[10] = 3;
	greeting[11] = 0;
	greeting.write('NULL', 12, 'ascii');
	return greeting;
}

function frameHeader(flags: number, size: number): Buffer {
	if (size <= 0xff) return Buffer.from([flags, size]);
	const header = Buffer.alloc(9);
	header[0] = flags | flagLong;
	header.writeBigUInt64BE(BigInt(size), 1);
	return header;
}

/** One multipart message; every frame but the last carries MORE. */
export function encodeMessage(frames: readonly Buffer[]): Buffer {
	if (frames.length === 0) throw new ZmtpError('a message needs at least one frame');
	const parts: Buffer[] = [];
	frames.forEach((frame, index) => parts.push(frameHeader(index < frames.length - 1 ? flagMore : 0, frame.length), frame));
	return Buffer.concat(parts);
}

export function encodeCommand(name: string, data: Buffer = Buffer.alloc(0)): Buffer {
	const nameBytes = Buffer.from(name, 'ascii');
	if (nameBytes.length === 0 || nameBytes.length > 0xff) throw new ZmtpError(`bad command name ${JSON.stringify(name)}`);
	const body = Buffer.concat([Buffer.from([nameBytes.length]), nameBytes, data]);
	return Buffer.concat([frameHeader(flagCommand, body.length), body]);
}

export function encodeProperties(properties: Readonly<Record<string, Buffer>>): Buffer {
	const parts: Buffer[] = [];
	for (const [name, value] of Object.entries(properties)) {
		const nameBytes = Buffer.from(name, 'ascii');
		if (nameBytes.length === 0 || nameBytes.length > 0xff) throw new ZmtpError(`bad property name ${JSON.stringify(name)}`);
		const valueSize = Buffer.alloc(4);
		valueSize.writeUInt32BE(value.length);
		parts.push(Buffer.from([nameBytes.length]), nameBytes, valueSize, value);
	}
	return Buffer.concat(parts);
}

/** Property names are case-insensitive in ZMTP, so they come back lower-cased. */
export function parseProperties(data: Buffer): Map<string, Buffer> {
	const properties = new Map<string, Buffer>();
	let offset = 0;
	while (offset < data.length) {
		const nameSize = data[offset]!;
		if (nameSize === 0 || offset + 1 + nameSize + 4 > data.length) throw new ZmtpError('truncated property in metadata');
		const name = data.toString('ascii', offset + 1, offset + 1 + nameSize).toLowerCase();
		offset += 1 + nameSize;
		const valueSize = data.readUInt32BE(offset);
		offset += 4;
		if (offset + valueSize > data.length) throw new ZmtpError(`truncated value of property ${name}`);
		properties.set(name, data.subarray(offset, offset + valueSize));
		offset += valueSize;
	}
	return properties;
}

/** Received bytes, kept as the chunks they came in so a large frame is copied once, not once per chunk. */
class ByteQueue {
	private chunks: Buffer[] = [];
	private head = 0;
	length = 0;

	push(chunk: Buffer): void {
		if (chunk.length === 0) return;
		this.chunks.push(chunk);
		this.length += chunk.length;
	}

	/** Callers check `length` first. */
	take(size: number): Buffer {
		this.length -= size;
		const first = this.chunks[0];
		if (first !== undefined && first.length - this.head >= size) {
			const bytes = first.subarray(this.head, this.head + size);
			this.advance(first, size);
			return bytes;
		}
		const bytes = Buffer.allocUnsafe(size);
		let filled = 0;
		while (filled < size) {
			const chunk = this.chunks[0]!;
			const n = Math.min(size - filled, chunk.length - this.head);
			chunk.copy(bytes, filled, this.head, this.head + n);
			filled += n;
			this.advance(chunk, n);
		}
		return bytes;
	}

	private advance(chunk: Buffer, n: number): void {
		this.head += n;
		if (this.head === chunk.length) {
			this.chunks.shift();
			this.head = 0;
		}
	}
}

/** Turns the peer's byte stream into a greeting, then commands and whole multipart messages. */
export class ZmtpDecoder {
	private readonly queue = new ByteQueue();
	private greeted = false;
	private flags: number | undefined;
	private size: number | undefined;
	private frames: Buffer[] = [];
	private messageBytes = 0;

	constructor(private readonly maxMessageBytes = defaultMaxMessageBytes) {}

	/** Throws ZmtpError on a protocol violation; the connection is unusable after that. */
	push(chunk: Buffer): ZmtpEvent[] {
		this.queue.push(chunk);
		const events: ZmtpEvent[] = [];
		if (!this.greeted) {
			if (this.queue.length < greetingBytes) return events;
			events.push({ kind: 'greeting', greeting: parseGreeting(this.queue.take(greetingBytes)) });
			this.greeted = true;
		}
		for (let event = this.nextFrame(); event !== 'more'; event = this.nextFrame()) {
			if (event !== undefined) events.push(event);
		}
		return events;
	}

	/** 'more' when bytes are missing; undefined after a frame that does not end a message. */
	private nextFrame(): ZmtpEvent | undefined | 'more' {
		if (this.flags === undefined) {
			if (this.queue.length < 1) return 'more';
			const flags = this.queue.take(1)[0]!;
			if (flags & ~(flagMore | flagLong | flagCommand)) throw new ZmtpError(`reserved frame flag bits set: 0x${flags.toString(16)}`);
			if (flags & flagCommand && flags & flagMore) throw new ZmtpError('command frame with the MORE flag');
			if (flags & flagCommand && this.frames.length > 0) throw new ZmtpError('command frame inside a multipart message');
			this.flags = flags;
		}
		if (this.size === undefined) {
			const sizeBytes = this.flags & flagLong ? 8 : 1;
			if (this.queue.length < sizeBytes) return 'more';
			const raw = this.queue.take(sizeBytes);
			const size = sizeBytes === 8 ? raw.readBigUInt64BE() : BigInt(raw[0]!);
			if (size + BigInt(this.messageBytes) > BigInt(this.maxMessageBytes)) {
				throw new ZmtpError(`incoming message exceeds the limit of ${this.maxMessageBytes} bytes`);
			}
			this.size = Number(size);
		}
		if (this.queue.length < this.size) return 'more';
		const body = this.queue.take(this.size);
		const flags = this.flags;
		this.flags = this.size = undefined;
		if (flags & flagCommand) return parseCommand(body);
		this.frames.push(body);
		this.messageBytes += body.length;
		if (flags & flagMore) return undefined;
		const frames = this.frames;
		this.frames = [];
		this.messageBytes = 0;
		return { kind: 'message', frames };
	}
}

function parseGreeting(bytes: Buffer): ZmtpGreeting {
	if (bytes[0] !== 0xff || (bytes[9]! & 0x01) !== 0x01) throw new ZmtpError('peer did not send a ZMTP 3 greeting signature');
	const major = bytes[10]!;
	if (major < 3) throw new ZmtpError(`peer speaks ZMTP ${major}.x; 3.0 or later is needed`);
	const mechanismEnd = bytes.indexOf(0, 12);
	const mechanism = bytes.toString('ascii', 12, mechanismEnd === -1 || mechanismEnd > 32 ? 32 : mechanismEnd);
	return { major, minor: bytes[11]!, mechanism, asServer: bytes[32] === 1 };
}

function parseCommand(body: Buffer): ZmtpEvent {
	const nameSize = body[0];
	if (nameSize === undefined || nameSize === 0 || 1 + nameSize > body.length) throw new ZmtpError('malformed command frame');
	return { kind: 'command', name: body.toString('ascii', 1, 1 + nameSize), data: body.subarray(1 + nameSize) };
}

type MessageListener = (frames: Buffer[]) => void;
type CloseListener = (error?: Error) => void;

/** One ZMTP connection acting as a DEALER or SUB socket. */
export class ZmtpSocket {
	private readonly decoder: ZmtpDecoder;
	private messageListener: MessageListener | undefined;
	/** Messages that arrive before anyone listens, e.g. in the same chunk as the peer's READY. */
	private backlog: Buffer[][] = [];
	private readonly closeListeners: CloseListener[] = [];
	private ready = false;
	private failure: Error | undefined;

	private constructor(
		private readonly socket: net.Socket,
		readonly type: ZmtpSocketType,
		maxMessageBytes: number,
		private readonly topic: Buffer,
	) {
		this.decoder = new ZmtpDecoder(maxMessageBytes);
	}

	/** Resolves once both sides have exchanged greeting and READY, so `send` is immediately usable. */
	static async connect(endpoint: ZmtpEndpoint, type: ZmtpSocketType, options: ZmtpConnectOptions = {}): Promise<ZmtpSocket> {
		const properties: Record<string, Buffer> = { 'Socket-Type': Buffer.from(type, 'ascii') };
		if (options.identity !== undefined) {
			const identity = options.identity;
			if (type !== 'DEALER') throw new ZmtpError('only a DEALER socket has an identity');
			if (identity.length === 0 || identity.length > 0xff || identity[0] === 0) {
				throw new ZmtpError('an identity is 1-255 bytes and must not start with 0x00');
			}
			properties['Identity'] = identity;
		}
		if ('path' in endpoint && Buffer.byteLength(endpoint.path) > maxUnixPathBytes) {
			throw new ZmtpError(`socket path is longer than ${maxUnixPathBytes} bytes: ${endpoint.path}`);
		}
		const socket = net.connect(endpoint);
		const zmtp = new ZmtpSocket(socket, type, options.maxMessageBytes ?? defaultMaxMessageBytes, options.subscribe ?? Buffer.alloc(0));
		return new Promise((resolve, reject) => {
			const where = 'path' in endpoint ? endpoint.path : `${endpoint.host}:${endpoint.port}`;
			const timer = setTimeout(() => socket.destroy(new ZmtpError(`ZMTP handshake with ${where} timed out`)), options.handshakeTimeoutMs ?? 10_000);
			socket.once('connect', () => socket.write(Buffer.concat([encodeGreeting(), encodeCommand('READY', encodeProperties(properties))])));
			socket.on('data', (chunk: Buffer) =>
				zmtp.receive(chunk, () => {
					clearTimeout(timer);
					resolve(zmtp);
				}),
			);
			socket.on('error', (error) => {
				zmtp.failure ??= error;
			});
			socket.once('close', () => {
				clearTimeout(timer);
				if (!zmtp.ready) {
					const cause = zmtp.failure;
					// libzmq hangs up without an ERROR command when it dislikes our Socket-Type or mechanism.
					const message = `cannot connect to ${where}: ${cause?.message ?? 'peer closed the connection during the handshake (wrong socket type?)'}`;
					reject(cause instanceof ZmtpError ? cause : new ZmtpError(message, { cause }));
					return;
				}
				for (const listener of zmtp.closeListeners) listener(zmtp.failure);
			});
		});
	}

	send(frames: readonly Buffer[]): void {
		if (this.socket.destroyed) throw new ZmtpError('socket is closed');
		this.socket.write(encodeMessage(frames));
	}

	/** There is one listener; setting it delivers anything already received. */
	onMessage(listener: MessageListener): void {
		this.messageListener = listener;
		const backlog = this.backlog;
		this.backlog = [];
		for (const frames of backlog) listener(frames);
	}

	/** Called once when the connection ends after the handshake, with the cause if it failed. */
	onClose(listener: CloseListener): void {
		this.closeListeners.push(listener);
	}

	close(): void {
		this.socket.destroy();
	}

	private receive(chunk: Buffer, onReady: () => void): void {
		try {
			for (const event of this.decoder.push(chunk)) this.handle(event, onReady);
		} catch (error) {
			this.socket.destroy(error instanceof Error ? error : new ZmtpError(String(error)));
		}
	}

	private handle(event: ZmtpEvent, onReady: () => void): void {
		if (event.kind === 'greeting') {
			if (event.greeting.mechanism !== 'NULL') throw new ZmtpError(`peer wants security mechanism ${event.greeting.mechanism}; only NULL is supported`);
			return;
		}
		if (event.kind === 'command') {
			this.handleCommand(event.name, event.data, onReady);
			return;
		}
		if (!this.ready) throw new ZmtpError('peer sent a message before READY');
		if (this.messageListener) this.messageListener(event.frames);
		else this.backlog.push(event.frames);
	}

	private handleCommand(name: string, data: Buffer, onReady: () => void): void {
		if (name === 'ERROR') {
			const reasonSize = data[0] ?? 0;
			throw new ZmtpError(`peer refused the connection: ${data.toString('utf8', 1, 1 + reasonSize)}`);
		}
		if (name === 'READY') {
			if (this.ready) throw new ZmtpError('peer sent READY twice');
			const peerType = parseProperties(data).get('socket-type')?.toString('ascii') ?? '';
			if (!compatiblePeers[this.type].includes(peerType)) throw new ZmtpError(`a ${this.type} socket cannot talk to a ${peerType || 'untyped'} peer`);
			this.ready = true;
			// ZMTP 3.0 subscriptions are messages: 0x01 then the topic prefix; empty means everything.
			if (this.type === 'SUB') this.send([Buffer.concat([Buffer.from([0x01]), this.topic])]);
			onReady();
			return;
		}
		// A peer with ZMQ_HEARTBEAT_IVL set pings and drops us without an answer; PONG echoes the context after the TTL.
		if (name === 'PING') this.socket.write(encodeCommand('PONG', data.subarray(2)));
	}
}
