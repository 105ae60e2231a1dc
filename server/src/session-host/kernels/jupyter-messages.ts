/**
 * The Jupyter wire protocol (messaging spec 5.3): the frames of one message
 * on a ZMTP socket, signed with the connection file's key. Anything that can
 * reach a kernel's sockets can run code in it, so incoming messages are
 * verified, not just parsed.
 */
import { createHmac, getHashes, randomUUID, timingSafeEqual } from 'node:crypto';

export const protocolVersion = '5.3';
const delimiter = Buffer.from('<IDS|MSG>', 'ascii');

export interface JupyterHeader {
	readonly msg_id: string;
	readonly session: string;
	readonly username: string;
	readonly date: string;
	readonly msg_type: string;
	readonly version: string;
}

export type JsonObject = Record<string, unknown>;

export interface JupyterMessage {
	/** Routing frames before the delimiter; on IOPub, the topic. */
	readonly identities: Buffer[];
	readonly header: JupyterHeader;
	/** Empty for messages that answer nothing. */
	readonly parent_header: Partial<JupyterHeader>;
	readonly metadata: JsonObject;
	readonly content: JsonObject;
	readonly buffers: Buffer[];
}

export type JupyterMessageFault = 'no-delimiter' | 'too-few-frames' | 'bad-signature' | 'bad-json' | 'bad-header';

export class JupyterMessageError extends Error {
	constructor(
		readonly fault: JupyterMessageFault,
		message: string,
	) {
		super(message);
		this.name = 'JupyterMessageError';
	}
}

export interface JupyterSessionOptions {
	/** The connection file's `key`; empty means messages are neither signed nor checked. */
	readonly key: string;
	/** The connection file's `signature_scheme`, e.g. `hmac-sha256`. */
	readonly signatureScheme: string;
	readonly username?: string;
}

/** One client's identity towards a kernel: its session id, and the key it signs and verifies with. */
export class JupyterSession {
	readonly id = randomUUID();
	private readonly username: string;
	private readonly key: Buffer;
	private readonly digest: string;

	constructor(options: JupyterSessionOptions) {
		const match = /^hmac-([a-z0-9-]+)$/i.exec(options.signatureScheme);
		const digest = match?.[1]?.toLowerCase();
		if (digest === undefined || !getHashes().includes(digest)) throw new Error(`unsupported signature scheme ${JSON.stringify(options.signatureScheme)}`);
		this.digest = digest;
		this.key = Buffer.from(options.key, 'utf8');
		this.username = options.username ?? 'spyder-remote';
	}

	/** The frames to send on a DEALER socket, and the header so replies can be matched to it. */
	build(msgType: string, content: JsonObject): { frames: Buffer[]; header: JupyterHeader } {
		const header: JupyterHeader = {
			msg_id: randomUUID(),
			session: this.id,
			username: this.username,
			date: new Date().toISOString(),
			msg_type: msgType,
			version: protocolVersion,
		};
		// A client's requests answer nothing, so parent_header and metadata stay empty.
		const signed = [header, {}, {}, content].map((part) => Buffer.from(JSON.stringify(part), 'utf8'));
		return { frames: [delimiter, Buffer.from(this.sign(signed), 'ascii'), ...signed], header };
	}

	/** Throws JupyterMessageError for anything malformed or not signed with our key. */
	parse(frames: readonly Buffer[]): JupyterMessage {
		const at = frames.findIndex((frame) => frame.equals(delimiter));
		if (at === -1) throw new JupyterMessageError('no-delimiter', 'message has no <IDS|MSG> delimiter');
		const [signature, ...rest] = frames.slice(at + 1);
		const signed = rest.slice(0, 4);
		if (signature === undefined || signed.length < 4) throw new JupyterMessageError('too-few-frames', 'message has fewer than five frames after the delimiter');
		if (!this.verify(signature, signed)) throw new JupyterMessageError('bad-signature', 'message signature does not match');
		const [header, parentHeader, metadata, content] = signed.map(parseObject);
		if (typeof header!['msg_id'] !== 'string' || typeof header!['msg_type'] !== 'string') {
			throw new JupyterMessageError('bad-header', 'message header lacks msg_id or msg_type');
		}
		return {
			identities: frames.slice(0, at),
			header: header as unknown as JupyterHeader,
			parent_header: parentHeader as Partial<JupyterHeader>,
			metadata: metadata!,
			content: content!,
			buffers: rest.slice(4),
		};
	}

	private sign(parts: readonly Buffer[]): string {
		if (this.key.length === 0) return '';
		const hmac = createHmac(this.digest, this.key);
		for (const part of parts) hmac.update(part);
		return hmac.digest('hex');
	}

	private verify(signature: Buffer, parts: readonly Buffer[]): boolean {
		if (this.key.length === 0) return true;
		const expected = Buffer.from(this.sign(parts), 'ascii');
		return signature.length === expected.length && timingSafeEqual(signature, expected);
	}
}

function parseObject(frame: Buffer): JsonObject {
	let value: unknown;
	try {
		value = JSON.parse(frame.toString('utf8'));
	} catch {
		throw new JupyterMessageError('bad-json', 'message part is not JSON');
	}
	if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new JupyterMessageError('bad-json', 'message part is not a JSON object');
	return value as JsonObject;
}
