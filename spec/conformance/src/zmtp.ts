/**
 * The least of ZMTP 3.0 (RFC 23) that reaches a Jupyter kernel through a
 * tunnel: the NULL mechanism, one peer, DEALER or SUB. It works over any
 * byte stream, because a tunnel passes the kernel's ZMTP bytes unchanged.
 * Announcing 3.0 rather than 3.1 keeps libzmq to 3.0 framing, where a
 * subscription is an ordinary message.
 */
import type { Duplex } from 'node:stream';

export type SocketRole = 'DEALER' | 'SUB';

const MORE = 0x01;
const LONG = 0x02;
const COMMAND = 0x04;
const maxFrameBytes = 64 * 1024 * 1024;
const peersOf: Record<SocketRole, readonly string[]> = { DEALER: ['ROUTER', 'DEALER', 'REP'], SUB: ['PUB', 'XPUB'] };

function greeting(): Buffer {
	const bytes = Buffer.alloc(64);
	bytes[0] = 0xff;
	bytes[9] = 0x7f;
	bytes[10] = 3;
	bytes.write('NULL', 12, 'ascii');
	return bytes;
}

function frame(flags: number, body: Buffer): Buffer {
	if (body.length < 256) return Buffer.concat([Buffer.from([flags, body.length]), body]);
	const size = Buffer.alloc(8);
	size.writeBigUInt64BE(BigInt(body.length));
	return Buffer.concat([Buffer.from([flags | LONG]), size, body]);
}

function ready(role: SocketRole): Buffer {
	const name = Buffer.from('Socket-Type');
	const value = Buffer.from(role);
	const valueSize = Buffer.alloc(4);
	valueSize.writeUInt32BE(value.length);
	return frame(COMMAND, Buffer.concat([Buffer.from([5]), Buffer.from('READY'), Buffer.from([name.length]), name, valueSize, value]));
}

/** The peer's Socket-Type from a READY body (name-size, name, then properties). */
function socketTypeOf(body: Buffer): string | undefined {
	let offset = 1 + body[0]!;
	while (offset < body.length) {
		const nameSize = body[offset]!;
		const name = body.toString('ascii', offset + 1, offset + 1 + nameSize);
		const valueSize = body.readUInt32BE(offset + 1 + nameSize);
		const start = offset + 5 + nameSize;
		if (name.toLowerCase() === 'socket-type') return body.toString('ascii', start, start + valueSize);
		offset = start + valueSize;
	}
	return undefined;
}

export class ZmtpPeer {
	private buffer = Buffer.alloc(0);
	private stage: 'greeting' | 'ready' | 'traffic' = 'greeting';
	private parts: Buffer[] = [];
	private readonly messages: Buffer[][] = [];
	private readonly listeners = new Set<() => void>();
	private failure: Error | undefined;

	private constructor(
		private readonly stream: Duplex,
		private readonly role: SocketRole,
	) {
		stream.on('data', (chunk: Buffer) => {
			this.buffer = Buffer.concat([this.buffer, chunk]);
			try {
				this.parse();
			} catch (error) {
				this.failure = error as Error;
				stream.destroy();
			}
			this.wake();
		});
		stream.on('error', (error) => (this.failure ??= error));
		stream.on('close', () => {
			this.failure ??= new Error(`the ${role} connection closed`);
			this.wake();
		});
	}

	/** Greets, then resolves once the peer's greeting and READY have arrived. A SUB then subscribes to everything. */
	static async handshake(stream: Duplex, role: SocketRole, timeoutMs = 10_000): Promise<ZmtpPeer> {
		const peer = new ZmtpPeer(stream, role);
		stream.write(Buffer.concat([greeting(), ready(role)]));
		if (!(await peer.wait(() => peer.stage === 'traffic', timeoutMs))) {
			stream.destroy();
			throw new Error(`the ZMTP handshake of the ${role} connection did not complete within ${timeoutMs} ms`);
		}
		if (role === 'SUB') peer.send([Buffer.from([0x01])]);
		return peer;
	}

	send(frames: readonly Buffer[]): void {
		this.stream.write(Buffer.concat(frames.map((body, index) => frame(index < frames.length - 1 ? MORE : 0, body))));
	}

	/** The next whole multipart message, or undefined when none comes within `timeoutMs`. Throws once the connection has failed. */
	async receive(timeoutMs: number): Promise<Buffer[] | undefined> {
		return (await this.wait(() => this.messages.length > 0, timeoutMs)) ? this.messages.shift() : undefined;
	}

	close(): void {
		this.stream.destroy();
	}

	/** True when `done` holds within `timeoutMs`, false when it does not; rejects when the connection fails first. */
	private wait(done: () => boolean, timeoutMs: number): Promise<boolean> {
		return new Promise((resolve, reject) => {
			const finish = (outcome: boolean | Error) => {
				clearTimeout(timer);
				this.listeners.delete(check);
				if (outcome instanceof Error) reject(outcome);
				else resolve(outcome);
			};
			const timer = setTimeout(() => finish(false), Math.max(timeoutMs, 0));
			const check = () => {
				if (done()) finish(true);
				else if (this.failure) finish(new Error(`ZMTP ${this.role}: ${this.failure.message}`));
			};
			this.listeners.add(check);
			check();
		});
	}

	private wake(): void {
		for (const listener of [...this.listeners]) listener();
	}

	private parse(): void {
		if (this.stage === 'greeting') {
			if (this.buffer.length < 64) return;
			const mechanism = this.buffer.toString('ascii', 12, 32).replace(/\0+$/, '');
			if (this.buffer[0] !== 0xff || this.buffer[10]! < 3) throw new Error('the peer did not send a ZMTP 3 greeting');
			if (mechanism !== 'NULL') throw new Error(`the peer wants the ${mechanism} mechanism`);
			this.buffer = this.buffer.subarray(64);
			this.stage = 'ready';
		}
		for (;;) {
			if (this.buffer.length < 2) return;
			const flags = this.buffer[0]!;
			const long = (flags & LONG) !== 0;
			if (long && this.buffer.length < 9) return;
			const size = long ? Number(this.buffer.readBigUInt64BE(1)) : this.buffer[1]!;
			if (size > maxFrameBytes) throw new Error(`a ${size}-byte ZMTP frame`);
			const start = long ? 9 : 2;
			if (this.buffer.length < start + size) return;
			const body = this.buffer.subarray(start, start + size);
			this.buffer = this.buffer.subarray(start + size);
			if (flags & COMMAND) this.command(body);
			else if (this.stage !== 'traffic') throw new Error('the peer sent a message before READY');
			else {
				this.parts.push(body);
				if (!(flags & MORE)) this.messages.push(this.parts.splice(0));
			}
		}
	}

	private command(body: Buffer): void {
		const name = body.toString('ascii', 1, 1 + body[0]!);
		if (name === 'ERROR') throw new Error(`the peer refused: ${body.toString('utf8', 2 + body[0]!)}`);
		if (name !== 'READY') return;
		const peerType = socketTypeOf(body);
		if (!peerType || !peersOf[this.role].includes(peerType)) throw new Error(`a ${this.role} cannot talk to a ${peerType ?? 'typeless'} peer`);
		this.stage = 'traffic';
	}
}
