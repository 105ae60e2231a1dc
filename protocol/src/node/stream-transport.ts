import type { Duplex, Readable, Writable } from 'node:stream';
import {
	AbstractMessageReader,
	AbstractMessageWriter,
	createMessageConnection,
	Disposable,
	Message,
	type DataCallback,
	type Logger,
	type MessageConnection,
} from 'vscode-jsonrpc/node';
import { ErrorCodes } from '../common/errors.js';
import { defaultFramingLimits, defaultMaxNestingDepth, encodeFrame, FrameDecoder, FramingError, type FramingLimits } from './frame-decoder.js';
import { exceedsNestingDepth } from './json-nesting.js';

/** Decodes a body into a JSON-RPC message, or throws FramingError. Nesting is checked first, so a deep body is never parsed. */
export function parseMessage(body: Buffer, maxNestingDepth = defaultMaxNestingDepth): Message {
	if (exceedsNestingDepth(body, maxNestingDepth)) {
		throw new FramingError('too-deep', `message nests arrays and objects more than ${maxNestingDepth} deep`);
	}
	let value: unknown;
	try {
		value = JSON.parse(body.toString('utf8'));
	} catch (error) {
		throw new FramingError('invalid-json', `message body is not valid JSON (${(error as Error).message})`);
	}
	if (typeof value !== 'object' || value === null || Array.isArray(value) || (value as { jsonrpc?: unknown }).jsonrpc !== '2.0') {
		throw new FramingError('not-json-rpc', 'message is not a JSON-RPC 2.0 object (batches are not supported)');
	}
	return value as Message;
}

/**
 * A vscode-jsonrpc MessageReader over FrameDecoder. After the first framing
 * error it stops reading: the stream is out of sync or hostile, and the owner
 * closes it.
 */
export class BoundedMessageReader extends AbstractMessageReader {
	private readonly decoder: FrameDecoder;
	private readonly maxNestingDepth: number;
	private callback: DataCallback | undefined;
	private stopped = false;

	constructor(
		private readonly readable: Readable,
		limits: FramingLimits = defaultFramingLimits,
	) {
		super();
		this.decoder = new FrameDecoder(limits);
		this.maxNestingDepth = limits.maxNestingDepth ?? defaultMaxNestingDepth;
	}

	listen(callback: DataCallback): Disposable {
		this.callback = callback;
		this.readable.on('data', this.onData);
		this.readable.on('error', this.onStreamError);
		this.readable.on('close', this.onStreamClose);
		return Disposable.create(() => this.stop());
	}

	private stop(): void {
		this.stopped = true;
		this.readable.off('data', this.onData);
		this.readable.off('error', this.onStreamError);
		this.readable.off('close', this.onStreamClose);
	}

	private readonly onData = (chunk: Buffer): void => {
		if (this.stopped) return;
		this.decoder.push(chunk);
		try {
			// A callback that closed the stream ends the chunk too: nothing more in it is decoded or reported.
			for (let body = this.decoder.next(); body && !this.stopped && !this.readable.destroyed; body = this.decoder.next()) {
				this.callback?.(parseMessage(body, this.maxNestingDepth));
			}
		} catch (error) {
			this.stop();
			this.fireError(error);
		}
	};

	private readonly onStreamError = (error: Error): void => this.fireError(error);
	private readonly onStreamClose = (): void => this.fireClose();
}

/**
 * Writes each message as one frame in one write, so header and body share a
 * TCP segment and a TLS record. The frames written in one poll phase leave
 * together (corked until setImmediate): vscode-jsonrpc answers one request
 * per immediate, so a burst of requests read in one go is answered with one
 * writev instead of one write each. A peer that stops reading is not allowed
 * to grow our memory: past `maxBufferedBytes` of unsent output the stream is
 * destroyed.
 */
export class FrameMessageWriter extends AbstractMessageWriter {
	private corked = false;

	constructor(
		private readonly writable: Writable,
		private readonly maxBufferedBytes = 64 * 1024 * 1024,
	) {
		super();
	}

	write(message: Message): Promise<void> {
		if (this.writable.destroyed || this.writable.writableEnded) return Promise.reject(new Error('stream is closed'));
		if (this.writable.writableLength > this.maxBufferedBytes) {
			const error = new Error(`peer is not reading: more than ${this.maxBufferedBytes} bytes of output are waiting`);
			this.writable.destroy(error);
			return Promise.reject(error);
		}
		if (!this.corked) {
			this.corked = true;
			this.writable.cork();
			setImmediate(this.uncork);
		}
		this.writable.write(encodeFrame(Buffer.from(JSON.stringify(message), 'utf8')));
		return Promise.resolve();
	}

	private readonly uncork = (): void => {
		this.corked = false;
		this.writable.uncork();
	};

	end(): void {
		this.writable.end();
	}
}

export interface ProtocolConnectionOptions {
	limits?: FramingLimits;
	logger?: Logger;
	/** Called once when the peer broke the framing; the socket is already being closed. */
	onFramingError?: (error: FramingError) => void;
}

export interface ProtocolConnection {
	readonly connection: MessageConnection;
	readonly reader: BoundedMessageReader;
	readonly writer: FrameMessageWriter;
}

/**
 * A vscode-jsonrpc connection over a socket with bounded framing and no
 * Nagle delay. A framing error closes this socket only: for invalid JSON
 * the peer first gets a ParseError response, as JSON-RPC asks.
 */
export function createProtocolConnection(socket: Duplex, options: ProtocolConnectionOptions = {}): ProtocolConnection {
	(socket as { setNoDelay?: (noDelay: boolean) => void }).setNoDelay?.(true);
	const reader = new BoundedMessageReader(socket, options.limits);
	const writer = new FrameMessageWriter(socket);
	reader.onError((error) => {
		if (!(error instanceof FramingError)) return;
		options.onFramingError?.(error);
		closeAfterFramingError(socket, writer, error);
	});
	const connection = createMessageConnection(reader, writer, options.logger);
	return { connection, reader, writer };
}

export function closeAfterFramingError(socket: Duplex, writer: FrameMessageWriter, error: FramingError): void {
	if (error.fault === 'invalid-json' || error.fault === 'too-deep' || error.fault === 'not-json-rpc') {
		// A parser's depth limit is a parse error (RFC 8259 §9 lets a parser limit nesting).
		const code = error.fault === 'not-json-rpc' ? ErrorCodes.InvalidRequest : ErrorCodes.ParseError;
		// The connection closes after this reply anyway; a peer already gone simply does not get it.
		writer.write({ jsonrpc: '2.0', id: null, error: { code, message: error.message } } as Message).catch(() => undefined);
		socket.end();
	} else {
		socket.destroy();
	}
}
