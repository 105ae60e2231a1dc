/**
 * The session host's own line to one of its kernels: readiness, shutdown,
 * interrupt, and (for tests and benchmarks) running code. Client traffic
 * to the kernel does not pass through here.
 *
 * Only shell, control and IOPub are connected. Requests go out with
 * allow_stdin false, so nothing arrives on stdin, and the host watches the
 * kernel process itself, which says more than the heartbeat socket would.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { JupyterSession, type JsonObject, type JupyterMessage } from './jupyter-messages.js';
import { ZmtpSocket, type ZmtpEndpoint, type ZmtpSocketType } from './zmtp.js';

/** The fields of a Jupyter connection file that this client uses. */
export interface ConnectionInfo {
	readonly transport: 'ipc' | 'tcp';
	/** For ipc, the absolute path prefix of the sockets: each one is `<ip>-<port>`. */
	readonly ip: string;
	readonly shell_port: number;
	readonly iopub_port: number;
	readonly control_port: number;
	readonly stdin_port: number;
	readonly hb_port: number;
	readonly key: string;
	readonly signature_scheme: string;
}

export interface KernelClientOptions {
	/** How long to keep retrying while the kernel has not bound its sockets yet. */
	readonly connectTimeoutMs?: number;
	/** Hears about incoming messages that were dropped: badly signed or malformed. */
	readonly onDroppedMessage?: (error: Error) => void;
	/**
	 * IOPub topic prefix to receive. ipykernel publishes status as
	 * `kernel.<id>.status` and output as `stream.*`: a client that needs only
	 * states passes `kernel.` and the kernel drops the output before sending it.
	 */
	readonly iopubTopic?: string;
}

export interface ExecuteOutcome {
	readonly status: 'ok' | 'error' | 'aborted';
	readonly stdout: string;
	readonly stderr: string;
	/** The `text/plain` form of the value of the last expression, if there was one. */
	readonly result?: string;
	readonly error?: { readonly ename: string; readonly evalue: string; readonly traceback: string[] };
}

export class KernelClientError extends Error {
	constructor(message: string, options?: ErrorOptions) {
		super(message, options);
		this.name = 'KernelClientError';
	}
}

type Channel = 'shell' | 'control' | 'iopub';
type MessageHandler = (channel: Channel, message: JupyterMessage) => void;

interface Waiter {
	readonly channels: readonly Channel[];
	handle: MessageHandler;
	fail(error: Error): void;
}

/** Connection errors that mean the kernel has not bound this socket yet. */
const notYetListening = new Set(['ENOENT', 'ECONNREFUSED']);
const connectRetryMs = 50;
const kernelInfoResendMs = 200;

export class KernelClient {
	private readonly waiters = new Set<Waiter>();
	private readonly statusListeners: ((state: string) => void)[] = [];
	/** Why each channel stopped working; a kernel that exits closes them one by one. */
	private readonly down = new Map<Channel, Error>();

	private constructor(
		private readonly session: JupyterSession,
		private readonly sockets: Readonly<Record<Channel, ZmtpSocket>>,
		private readonly onDroppedMessage: ((error: Error) => void) | undefined,
	) {
		for (const [channel, socket] of Object.entries(sockets) as [Channel, ZmtpSocket][]) {
			socket.onMessage((frames) => this.receive(channel, frames));
			socket.onClose((error) => this.lose(channel, new KernelClientError(`kernel ${channel} connection closed`, { cause: error })));
		}
	}

	static async connect(info: ConnectionInfo, options: KernelClientOptions = {}): Promise<KernelClient> {
		const session = new JupyterSession({ key: info.key, signatureScheme: info.signature_scheme });
		const deadline = Date.now() + (options.connectTimeoutMs ?? 10_000);
		const attempts = await Promise.allSettled([
			connectWhenListening(endpoint(info, info.shell_port), 'DEALER', deadline),
			connectWhenListening(endpoint(info, info.control_port), 'DEALER', deadline),
			connectWhenListening(endpoint(info, info.iopub_port), 'SUB', deadline, Buffer.from(options.iopubTopic ?? '', 'utf8')),
		]);
		const [shell, control, iopub] = attempts.map((attempt) => (attempt.status === 'fulfilled' ? attempt.value : undefined));
		if (shell === undefined || control === undefined || iopub === undefined) {
			for (const socket of [shell, control, iopub]) socket?.close();
			const failure = attempts.find((attempt) => attempt.status === 'rejected') as PromiseRejectedResult;
			throw new KernelClientError(`cannot connect to the kernel: ${String(failure.reason?.message ?? failure.reason)}`, { cause: failure.reason });
		}
		return new KernelClient(session, { shell, control, iopub }, options.onDroppedMessage);
	}

	/**
	 * Resolves with the kernel_info_reply content once the kernel answers and
	 * IOPub delivers. A SUB socket's subscription takes effect some time after
	 * connecting, and anything published before is lost, so the request is
	 * repeated until a status message proves IOPub is flowing.
	 */
	waitReady(timeoutMs = 30_000): Promise<JsonObject> {
		const sent = new Set<string>();
		let iopubFlowing = false;
		let reply: JsonObject | undefined;
		let resend: NodeJS.Timeout | undefined;
		return this.wait<JsonObject>('waiting for the kernel to be ready', ['shell', 'iopub'], timeoutMs, (done, fail) => {
			const ask = () => {
				try {
					sent.add(this.send('shell', 'kernel_info_request', {}));
				} catch (error) {
					fail(error as Error);
				}
			};
			ask();
			resend = setInterval(ask, kernelInfoResendMs);
			return (channel, message) => {
				if (channel === 'iopub' && message.header.msg_type === 'status') iopubFlowing = true;
				if (channel === 'shell' && message.header.msg_type === 'kernel_info_reply' && sent.has(message.parent_header.msg_id ?? '')) reply = message.content;
				if (iopubFlowing && reply !== undefined) done(reply);
			};
		}).finally(() => clearInterval(resend));
	}

	/** Runs code and collects what it printed and returned; IOPub must already flow (see waitReady). */
	execute(code: string, { timeoutMs = 60_000 }: { timeoutMs?: number } = {}): Promise<ExecuteOutcome> {
		let stdout = '';
		let stderr = '';
		let result: string | undefined;
		let reply: JsonObject | undefined;
		let idle = false;
		return this.wait<ExecuteOutcome>('execute_request', ['shell', 'iopub'], timeoutMs, (done) => {
			// With stop_on_error, ipykernel aborts execute requests that reach it shortly after a failure,
			// which races with the next request a caller sends as soon as this one is answered.
			const content = { code, silent: false, store_history: false, user_expressions: {}, allow_stdin: false, stop_on_error: false };
			const msgId = this.send('shell', 'execute_request', content);
			return (channel, message) => {
				if (message.parent_header.msg_id !== msgId) return;
				const type = message.header.msg_type;
				const body = message.content;
				if (channel === 'shell' && type === 'execute_reply') reply = body;
				else if (type === 'stream' && body['name'] === 'stdout') stdout += String(body['text']);
				else if (type === 'stream' && body['name'] === 'stderr') stderr += String(body['text']);
				else if (type === 'execute_result') result = String((body['data'] as JsonObject | undefined)?.['text/plain']);
				else if (type === 'status' && body['execution_state'] === 'idle') idle = true;
				// Reply and idle travel on different sockets, so either may come first; output precedes idle.
				if (reply !== undefined && idle) done(outcome(reply, stdout, stderr, result));
			};
		});
	}

	/** Asks the kernel to shut down (or restart) and resolves with its reply; making sure it exits is the caller's job. */
	shutdown(restart = false, { timeoutMs = 5_000 }: { timeoutMs?: number } = {}): Promise<JsonObject> {
		return this.request('shutdown_request', { restart }, timeoutMs);
	}

	/**
	 * For kernels with interrupt_mode 'message'. ipykernel 6 answers it too,
	 * whatever its kernelspec says, by sending SIGINT to its own process group
	 * when it leads one, else to itself.
	 */
	interrupt({ timeoutMs = 5_000 }: { timeoutMs?: number } = {}): Promise<JsonObject> {
		return this.request('interrupt_request', {}, timeoutMs);
	}

	/**
	 * Hears every execution_state the kernel publishes ('busy', 'idle',
	 * 'starting'), whoever's request caused it: IOPub is a broadcast.
	 */
	onStatus(listener: (state: string) => void): void {
		this.statusListeners.push(listener);
	}

	close(): void {
		for (const socket of Object.values(this.sockets)) socket.close();
		for (const channel of ['shell', 'control', 'iopub'] as const) this.lose(channel, new KernelClientError('kernel client closed'));
	}

	/** A control request answered by one reply. */
	private request(msgType: string, content: JsonObject, timeoutMs: number): Promise<JsonObject> {
		const replyType = msgType.replace(/_request$/, '_reply');
		return this.wait<JsonObject>(msgType, ['control'], timeoutMs, (done) => {
			const msgId = this.send('control', msgType, content);
			return (channel, message) => {
				if (channel === 'control' && message.header.msg_type === replyType && message.parent_header.msg_id === msgId) done(message.content);
			};
		});
	}

	/**
	 * Runs `start`, which sends and returns a handler for incoming messages,
	 * until that handler calls `done`, the time runs out, or a channel it
	 * depends on goes down.
	 */
	private wait<T>(
		what: string,
		channels: readonly Channel[],
		timeoutMs: number,
		start: (done: (value: T) => void, fail: (error: Error) => void) => MessageHandler,
	): Promise<T> {
		return new Promise<T>((resolve, reject) => {
			const lost = channels.map((channel) => this.down.get(channel)).find((error) => error !== undefined);
			if (lost) {
				reject(lost);
				return;
			}
			const finish = () => {
				clearTimeout(timer);
				this.waiters.delete(waiter);
			};
			const waiter: Waiter = {
				channels,
				handle: () => undefined,
				fail: (error) => {
					finish();
					reject(error);
				},
			};
			const timer = setTimeout(() => waiter.fail(new KernelClientError(`${what} timed out after ${timeoutMs} ms`)), timeoutMs);
			this.waiters.add(waiter);
			try {
				waiter.handle = start((value) => {
					finish();
					resolve(value);
				}, waiter.fail);
			} catch (error) {
				waiter.fail(error as Error);
			}
		});
	}

	/** Sends a signed request and returns its msg_id, which replies and output carry as their parent. */
	private send(channel: Channel, msgType: string, content: JsonObject): string {
		const lost = this.down.get(channel);
		if (lost) throw lost;
		const { frames, header } = this.session.build(msgType, content);
		this.sockets[channel].send(frames);
		return header.msg_id;
	}

	private receive(channel: Channel, frames: Buffer[]): void {
		let message: JupyterMessage;
		try {
			message = this.session.parse(frames);
		} catch (error) {
			this.onDroppedMessage?.(error as Error);
			return;
		}
		if (channel === 'iopub' && message.header.msg_type === 'status') {
			for (const listener of this.statusListeners) listener(String(message.content['execution_state']));
		}
		for (const waiter of [...this.waiters]) waiter.handle(channel, message);
	}

	private lose(channel: Channel, error: Error): void {
		if (this.down.has(channel)) return;
		this.down.set(channel, error);
		for (const waiter of [...this.waiters]) if (waiter.channels.includes(channel)) waiter.fail(error);
	}
}

function outcome(reply: JsonObject, stdout: string, stderr: string, result: string | undefined): ExecuteOutcome {
	const status = reply['status'] === 'ok' || reply['status'] === 'aborted' ? reply['status'] : 'error';
	const base = { status, stdout, stderr, ...(result === undefined ? {} : { result }) } as const;
	if (status !== 'error') return base;
	const traceback = Array.isArray(reply['traceback']) ? reply['traceback'].map(String) : [];
	return { ...base, error: { ename: String(reply['ename'] ?? ''), evalue: String(reply['evalue'] ?? ''), traceback } };
}

function endpoint(info: ConnectionInfo, port: number): ZmtpEndpoint {
	return info.transport === 'ipc' ? { path: `${info.ip}-${port}` } : { host: info.ip, port };
}

async function connectWhenListening(target: ZmtpEndpoint, type: ZmtpSocketType, deadline: number, subscribe?: Buffer): Promise<ZmtpSocket> {
	for (;;) {
		try {
			return await ZmtpSocket.connect(target, type, { handshakeTimeoutMs: Math.max(1, deadline - Date.now()), ...(subscribe ? { subscribe } : {}) });
		} catch (error) {
			const code = ((error as Error).cause as NodeJS.ErrnoException | undefined)?.code;
			if (code === undefined || !notYetListening.has(code) || Date.now() + connectRetryMs > deadline) throw error;
			await sleep(connectRetryMs);
		}
	}
}
