/**
 * Content-Length framing, decoded with hard bounds. vscode-jsonrpc's stock
 * reader accepts any header size and any Content-Length, rescans the whole
 * buffer for CRLFCRLF on every chunk, and cannot recover from a bad header;
 * this decoder is linear in the bytes received and fails fast and precisely.
 */

export interface FramingLimits {
	/** Largest header section, CRLFCRLF included. */
	readonly maxHeaderBytes: number;
	/** Largest Content-Length accepted. */
	readonly maxMessageBytes: number;
	/** Deepest nesting of arrays and objects accepted in a body, checked before it is parsed; default 256. */
	readonly maxNestingDepth?: number;
}

export const defaultMaxNestingDepth = 256;

export const defaultFramingLimits: FramingLimits = { maxHeaderBytes: 8 * 1024, maxMessageBytes: 16 * 1024 * 1024, maxNestingDepth: defaultMaxNestingDepth };

export type FramingFault =
	| 'header-too-large'
	| 'bad-header'
	| 'missing-content-length'
	| 'bad-content-length'
	| 'message-too-large'
	| 'invalid-json'
	| 'too-deep'
	| 'not-json-rpc';

export class FramingError extends Error {
	constructor(
		readonly fault: FramingFault,
		message: string,
	) {
		super(message);
		this.name = 'FramingError';
	}
}

const headerTerminator = Buffer.from('\r\n\r\n', 'ascii');
const initialCapacity = 64 * 1024;
/** Above this, an emptied buffer is given back rather than kept for reuse. */
const retainedCapacity = 1024 * 1024;

export class FrameDecoder {
	private buffer = Buffer.allocUnsafe(initialCapacity);
	private start = 0;
	private end = 0;
	/** How far past `start` the header has been searched, so no byte is scanned twice. */
	private scanned = 0;
	/** Body length announced by the current header, once it is parsed. */
	private bodyLength: number | undefined;

	constructor(private readonly limits: FramingLimits = defaultFramingLimits) {}

	get bufferedBytes(): number {
		return this.end - this.start;
	}

	push(chunk: Uint8Array): void {
		this.reserve(chunk.length);
		this.buffer.set(chunk, this.end);
		this.end += chunk.length;
	}

	/** The next complete body, undefined if more bytes are needed. Throws FramingError. */
	next(): Buffer | undefined {
		if (this.bodyLength === undefined) {
			const headerEnd = this.buffer.subarray(0, this.end).indexOf(headerTerminator, this.start + this.scanned);
			if (headerEnd === -1) {
				if (this.bufferedBytes > this.limits.maxHeaderBytes) {
					throw new FramingError('header-too-large', `header section exceeds ${this.limits.maxHeaderBytes} bytes without CRLFCRLF`);
				}
				this.scanned = Math.max(0, this.bufferedBytes - (headerTerminator.length - 1));
				return undefined;
			}
			const headerBytes = headerEnd + headerTerminator.length - this.start;
			if (headerBytes > this.limits.maxHeaderBytes) {
				throw new FramingError('header-too-large', `header section of ${headerBytes} bytes exceeds ${this.limits.maxHeaderBytes}`);
			}
			this.bodyLength = this.parseHeader(this.buffer.toString('latin1', this.start, headerEnd));
			this.start += headerBytes;
			this.scanned = 0;
		}
		if (this.bufferedBytes < this.bodyLength) return undefined;
		// A copy, so the body stays valid when the buffer is reused.
		const body = Buffer.from(this.buffer.subarray(this.start, this.start + this.bodyLength));
		this.start += this.bodyLength;
		this.bodyLength = undefined;
		this.compact();
		return body;
	}

	/** Hands back the bytes not yet decoded, for a peer that takes the stream over, and lets go of the buffer. */
	takeRemaining(): Buffer {
		const rest = Buffer.from(this.buffer.subarray(this.start, this.end));
		this.start = this.end = this.scanned = 0;
		this.bodyLength = undefined;
		this.buffer = Buffer.alloc(0);
		return rest;
	}

	private parseHeader(text: string): number {
		let contentLength: number | undefined;
		for (const line of text.split('\r\n')) {
			const colon = line.indexOf(':');
			if (colon <= 0) throw new FramingError('bad-header', `malformed header line ${JSON.stringify(line.slice(0, 80))}`);
			const name = line.slice(0, colon).trim().toLowerCase();
			const value = line.slice(colon + 1).trim();
			if (name === 'content-length') {
				if (contentLength !== undefined) throw new FramingError('bad-header', 'duplicate Content-Length header');
				if (!/^[0-9]{1,16}$/.test(value)) {
					throw new FramingError('bad-content-length', `Content-Length ${JSON.stringify(value.slice(0, 40))} is not a non-negative decimal integer`);
				}
				contentLength = Number(value);
				if (contentLength > this.limits.maxMessageBytes) {
					throw new FramingError('message-too-large', `Content-Length ${value} exceeds the limit of ${this.limits.maxMessageBytes} bytes`);
				}
			} else if (name === 'content-type') {
				const charset = /charset\s*=\s*"?([^";\s]+)/i.exec(value)?.[1]?.toLowerCase();
				if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') {
					throw new FramingError('bad-header', `unsupported charset ${JSON.stringify(charset)}; only utf-8 is accepted`);
				}
			}
		}
		if (contentLength === undefined) throw new FramingError('missing-content-length', 'header section has no Content-Length');
		return contentLength;
	}

	private reserve(extra: number): void {
		if (this.end + extra <= this.buffer.length) return;
		const live = this.end - this.start;
		const capacity = Math.max(initialCapacity, live + extra <= this.buffer.length ? this.buffer.length : 2 * (live + extra));
		const next = capacity === this.buffer.length ? this.buffer : Buffer.allocUnsafe(capacity);
		this.buffer.copy(next, 0, this.start, this.end);
		this.buffer = next;
		this.start = 0;
		this.end = live;
	}

	private compact(): void {
		if (this.start !== this.end) return;
		this.start = this.end = 0;
		if (this.buffer.length > retainedCapacity) this.buffer = Buffer.allocUnsafe(initialCapacity);
	}
}

export function encodeFrame(body: Buffer): Buffer {
	const header = Buffer.from(`Content-Length: ${body.length}\r\n\r\n`, 'ascii');
	return Buffer.concat([header, body], header.length + body.length);
}
