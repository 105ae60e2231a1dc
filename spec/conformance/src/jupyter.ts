/**
 * A minimal Jupyter client (messaging protocol 5.3): signed messages on the
 * shell channel and a subscription to IOPub, over any two byte streams that
 * carry ZMTP (tunnels, or the local ports of a forwarder). It knows
 * kernel_info and execute, which is what the suite and the examples need.
 */
import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import type { Duplex } from 'node:stream';
import { ZmtpPeer } from './zmtp.js';

const DELIMITER = Buffer.from('<IDS|MSG>');

export interface JupyterMessage {
	readonly header: { readonly msg_id: string; readonly msg_type: string; readonly [key: string]: unknown };
	readonly parent_header: { readonly msg_id?: string; readonly [key: string]: unknown };
	readonly metadata: Record<string, unknown>;
	readonly content: any;
}

export interface ExecuteOutcome {
	/** The execute_reply content: `status` is `ok`, `error` or `aborted`. */
	readonly reply: any;
	/** Everything the code wrote to stdout, from IOPub `stream` messages. */
	readonly stdout: string;
	/** The `execute_result` data, e.g. `{ "text/plain": "42" }`, when the code ended in an expression. */
	readonly result?: Record<string, string>;
	/** The IOPub messages that answered this request, in order. */
	readonly iopub: readonly JupyterMessage[];
}

export class JupyterClient {
	private readonly session = randomUUID();

	private constructor(
		private readonly key: Buffer,
		private readonly shell: ZmtpPeer,
		private readonly iopub: ZmtpPeer,
	) {}

	/** `key` is the kernel's key as text (the hex string of the connection file), as Jupyter uses it. */
	static async connect(streams: { shell: Duplex; iopub: Duplex }, key: string): Promise<JupyterClient> {
		const [shell, iopub] = await Promise.all([ZmtpPeer.handshake(streams.shell, 'DEALER'), ZmtpPeer.handshake(streams.iopub, 'SUB')]);
		return new JupyterClient(Buffer.from(key, 'ascii'), shell, iopub);
	}

	/**
	 * Asks kernel_info every 200 ms until a reply has come on shell and a
	 * status message on IOPub: a subscription takes effect some time after
	 * connecting, and only a message seen on IOPub proves it does.
	 */
	async waitReady(timeoutMs = 30_000): Promise<JupyterMessage> {
		const deadline = Date.now() + timeoutMs;
		let reply: JupyterMessage | undefined;
		let statusSeen = false;
		while (!reply || !statusSeen) {
			if (Date.now() > deadline) throw new Error(`the kernel did not answer kernel_info${reply ? ' with IOPub status' : ''} within ${timeoutMs} ms`);
			const msgId = this.send('kernel_info_request', {});
			const until = Date.now() + 200;
			while (Date.now() < until) {
				const message = await this.nextShell(until - Date.now());
				if (message?.header.msg_type === 'kernel_info_reply' && message.parent_header.msg_id === msgId) reply = message;
			}
			statusSeen ||= (await this.drainIopub()).some((message) => message.header.msg_type === 'status');
		}
		return reply;
	}

	/** Runs `code` and collects its reply and its IOPub output up to the kernel's `idle` for it. */
	async execute(code: string, timeoutMs = 30_000): Promise<ExecuteOutcome> {
		const deadline = Date.now() + timeoutMs;
		const msgId = this.send('execute_request', { code, silent: false, store_history: false, user_expressions: {}, allow_stdin: false, stop_on_error: true });
		let reply: any;
		const iopub: JupyterMessage[] = [];
		let idle = false;
		while (reply === undefined || !idle) {
			const left = deadline - Date.now();
			if (left <= 0) throw new Error(`no ${reply === undefined ? 'execute_reply' : 'idle status'} for ${JSON.stringify(code)} within ${timeoutMs} ms`);
			if (reply === undefined) {
				const message = await this.nextShell(Math.min(left, 100));
				if (message?.header.msg_type === 'execute_reply' && message.parent_header.msg_id === msgId) reply = message.content;
			}
			for (const message of await this.drainIopub(reply === undefined ? 0 : Math.min(left, 100))) {
				if (message.parent_header.msg_id !== msgId) continue;
				iopub.push(message);
				if (message.header.msg_type === 'status' && message.content.execution_state === 'idle') idle = true;
			}
		}
		const stdout = iopub
			.filter((message) => message.header.msg_type === 'stream' && message.content.name === 'stdout')
			.map((message) => String(message.content.text))
			.join('');
		const result = iopub.find((message) => message.header.msg_type === 'execute_result')?.content.data;
		return { reply, stdout, iopub, ...(result ? { result } : {}) };
	}

	close(): void {
		this.shell.close();
		this.iopub.close();
	}

	private send(msgType: string, content: object): string {
		const header = {
			msg_id: randomUUID(),
			msg_type: msgType,
			username: 'spyder-remote',
			session: this.session,
			date: new Date().toISOString(),
			version: '5.3',
		};
		const parts = [header, {}, {}, content].map((part) => Buffer.from(JSON.stringify(part)));
		this.shell.send([DELIMITER, Buffer.from(this.sign(parts)), ...parts]);
		return header.msg_id;
	}

	private sign(parts: readonly Buffer[]): string {
		const hmac = createHmac('sha256', this.key);
		for (const part of parts) hmac.update(part);
		return hmac.digest('hex');
	}

	/** Checks the signature, so a reply proves the kernel holds the key we were given. */
	private decode(frames: readonly Buffer[]): JupyterMessage {
		const at = frames.findIndex((part) => part.equals(DELIMITER));
		if (at === -1 || frames.length < at + 6) throw new Error('a kernel message without the <IDS|MSG> delimiter and four parts');
		const [signature, header, parent, metadata, content] = frames.slice(at + 1, at + 6) as [Buffer, Buffer, Buffer, Buffer, Buffer];
		const expected = Buffer.from(this.sign([header, parent, metadata, content]));
		if (signature.length !== expected.length || !timingSafeEqual(signature, expected)) throw new Error('a kernel message with a wrong HMAC signature');
		return {
			header: JSON.parse(header.toString()),
			parent_header: JSON.parse(parent.toString()),
			metadata: JSON.parse(metadata.toString()),
			content: JSON.parse(content.toString()),
		};
	}

	/** The next shell message within `timeoutMs`, or undefined. */
	private async nextShell(timeoutMs: number): Promise<JupyterMessage | undefined> {
		const frames = await this.shell.receive(timeoutMs);
		return frames && this.decode(frames);
	}

	/** The IOPub messages that have arrived, waiting up to `timeoutMs` for the first. */
	private async drainIopub(timeoutMs = 0): Promise<JupyterMessage[]> {
		const messages: JupyterMessage[] = [];
		for (let frames = await this.iopub.receive(timeoutMs); frames; frames = await this.iopub.receive(0)) messages.push(this.decode(frames));
		return messages;
	}
}
