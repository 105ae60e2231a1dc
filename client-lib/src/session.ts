import { hostname } from 'node:os';
import type { TLSSocket } from 'node:tls';
import {
	ExitNotification,
	InitializedNotification,
	InitializeRequest,
	isCompatibleVersion,
	LOGIN_EXPORTER_LABEL,
	LOGIN_EXPORTER_LENGTH,
	LoginChallengeRequest,
	PasswordLoginRequest,
	PingRequest,
	PROTOCOL_VERSION,
	publicKeyLoginPayload,
	PublicKeyLoginRequest,
	RegisterKeyRequest,
	ShutdownRequest,
	WhoamiRequest,
	EnvironmentCreateRequest,
	EnvironmentDidChangeNotification,
	EnvironmentInstallRequest,
	EnvironmentListRequest,
	EnvironmentPackagesRequest,
	EnvironmentRemoveRequest,
	EnvironmentUninstallRequest,
	KernelAttachRequest,
	KernelConnectRequest,
	KernelDidChangeStateNotification,
	KernelDidExitNotification,
	KernelDidChangeJobNotification,
	ServerCapabilitiesRequest,
	KernelInterruptRequest,
	KernelListRequest,
	KernelRestartRequest,
	KernelShutdownRequest,
	KernelStartRequest,
	type ClientCapabilities,
	type Kernel,
	type KernelChannel,
	type KernelConnectResult,
	type KernelDidChangeStateParams,
	type KernelDidExitParams,
	type KernelDidChangeJobParams,
	type ServerCapabilitiesResult,
	type KernelStartParams,
	type Environment,
	type EnvironmentCreateParams,
	type EnvironmentDidChangeParams,
	type EnvironmentInstallParams,
	type EnvironmentUninstallParams,
	type InstalledPackage,
	type InitializeResult,
	type LoginResult,
	type RegisterKeyResult,
	type WhoamiResult,
	DEFAULT_PORT,
} from '@spyder-remote/protocol';
import { createProtocolConnection, type FramingLimits } from '@spyder-remote/protocol/node';
import { randomUUID } from 'node:crypto';
import { CancellationTokenSource, type MessageConnection, type RequestParam } from 'vscode-jsonrpc/node';
import {
	WorkDoneProgress,
	type ProtocolRequestType,
	type WorkDoneProgressBegin,
	type WorkDoneProgressEnd,
	type WorkDoneProgressReport,
} from 'vscode-languageserver-protocol';
import { RemoteError } from './errors.js';
import { publicKeyText, sign, type KeyPair } from './keys.js';
import { connectVerified, type HostInfo, type TlsConnectOptions } from './tls-connection.js';
import { CLIENT_VERSION } from './version.js';

export { DEFAULT_PORT };

export interface OperationOptions {
	/** Begin, report (tool output lines) and end of the operation. */
	readonly onProgress?: (value: WorkDoneProgressBegin | WorkDoneProgressReport | WorkDoneProgressEnd) => void;
	/** Aborting cancels the request on the server, which stops the tool it runs. */
	readonly signal?: AbortSignal;
}

export interface ConnectOptions extends TlsConnectOptions {
	readonly clientInfo?: { name: string; version?: string };
	readonly capabilities?: ClientCapabilities;
	readonly limits?: FramingLimits;
}

/**
 * One connection to a spyder-remote server: verified TLS, initialized,
 * ready to log in. Requests before login fail with Unauthenticated.
 */
export class RemoteSession {
	private closed = false;
	private user: string | undefined;

	private constructor(
		private readonly socket: TLSSocket,
		readonly connection: MessageConnection,
		readonly server: HostInfo,
		readonly initializeResult: InitializeResult,
	) {}

	/** The account this connection is logged in as, once it is. */
	get loggedInAs(): string | undefined {
		return this.user;
	}

	static async connect(options: ConnectOptions): Promise<RemoteSession> {
		const { socket, server } = await connectVerified(options);
		try {
			const { connection } = createProtocolConnection(socket, { limits: options.limits });
			connection.listen();
			const initializeResult = await request(() =>
				connection.sendRequest(InitializeRequest.type, {
					protocolVersion: PROTOCOL_VERSION,
					clientInfo: options.clientInfo ?? { name: '@spyder-remote/client', version: CLIENT_VERSION },
					capabilities: options.capabilities ?? {},
				}),
			);
			if (!isCompatibleVersion(PROTOCOL_VERSION, initializeResult.protocolVersion)) {
				throw new Error(`protocol version mismatch: server speaks ${initializeResult.protocolVersion}, this client speaks ${PROTOCOL_VERSION}`);
			}
			await connection.sendNotification(InitializedNotification.type, {});
			return new RemoteSession(socket, connection, server, initializeResult);
		} catch (error) {
			socket.destroy();
			throw error;
		}
	}

	async loginWithPassword(user: string, password: string): Promise<LoginResult> {
		const result = await request(() => this.connection.sendRequest(PasswordLoginRequest.type, { user, password }));
		this.user = result.user;
		return result;
	}

	async loginWithKey(user: string, keyPair: KeyPair): Promise<LoginResult> {
		const publicKey = publicKeyText(keyPair);
		const { nonce } = await request(() => this.connection.sendRequest(LoginChallengeRequest.type, { user, publicKey }));
		const payload = publicKeyLoginPayload({
			user,
			publicKey: keyPair.publicKey,
			nonce: Buffer.from(nonce, 'base64'),
			channelBinding: this.socket.exportKeyingMaterial(LOGIN_EXPORTER_LENGTH, LOGIN_EXPORTER_LABEL, Buffer.alloc(0)),
		});
		const result = await request(() => this.connection.sendRequest(PublicKeyLoginRequest.type, { user, publicKey, signature: sign(keyPair, payload) }));
		this.user = result.user;
		return result;
	}

	/** Lets `keyPair` log in as the current user from now on. */
	registerKey(keyPair: KeyPair, comment = `${process.env.USER ?? 'user'}@${hostname()}`): Promise<RegisterKeyResult> {
		return request(() => this.connection.sendRequest(RegisterKeyRequest.type, { publicKey: publicKeyText(keyPair), comment: comment.slice(0, 200) }));
	}

	whoami(): Promise<WhoamiResult> {
		return request(() => this.connection.sendRequest(WhoamiRequest.type));
	}

	ping(): Promise<Record<string, never>> {
		return request(() => this.connection.sendRequest(PingRequest.type)) as Promise<Record<string, never>>;
	}

	/** The user's environments; with a range, each says whether a kernel of that spyder-kernels range can run there. */
	async listEnvironments(options: { spyderKernelsRange?: string; refresh?: boolean } = {}): Promise<Environment[]> {
		return (await request(() => this.connection.sendRequest(EnvironmentListRequest.type, options))).environments;
	}

	/** Called with every `environment/didChange`; returns a function that stops the calls. */
	onEnvironmentsChanged(listener: (change: EnvironmentDidChangeParams) => void): () => void {
		const subscription = this.connection.onNotification(EnvironmentDidChangeNotification.type, listener);
		return () => subscription.dispose();
	}

	async createEnvironment(params: Omit<EnvironmentCreateParams, 'workDoneToken'>, options: OperationOptions = {}): Promise<Environment> {
		return (await this.operation(EnvironmentCreateRequest.type, params, options)).environment;
	}

	async removeEnvironment(id: string, options: OperationOptions = {}): Promise<void> {
		await this.operation(EnvironmentRemoveRequest.type, { id }, options);
	}

	async listPackages(id: string): Promise<InstalledPackage[]> {
		return (await request(() => this.connection.sendRequest(EnvironmentPackagesRequest.type, { id }))).packages;
	}

	async installPackages(params: Omit<EnvironmentInstallParams, 'workDoneToken'>, options: OperationOptions = {}): Promise<Environment> {
		return (await this.operation(EnvironmentInstallRequest.type, params, options)).environment;
	}

	async uninstallPackages(params: Omit<EnvironmentUninstallParams, 'workDoneToken'>, options: OperationOptions = {}): Promise<Environment> {
		return (await this.operation(EnvironmentUninstallRequest.type, params, options)).environment;
	}

	/**
	 * A long request: progress arrives through `onProgress` (LSP work-done
	 * values), and aborting `signal` sends `$/cancelRequest`.
	 */
	private async operation<P extends { workDoneToken?: string | number }, R>(
		type: ProtocolRequestType<P, R, never, void, void>,
		params: Omit<P, 'workDoneToken'>,
		options: OperationOptions,
	): Promise<R> {
		const workDoneToken = randomUUID();
		const progress = options.onProgress ? this.connection.onProgress(WorkDoneProgress.type, workDoneToken, options.onProgress) : undefined;
		const cancellation = new CancellationTokenSource();
		const abort = () => cancellation.cancel();
		if (options.signal?.aborted) abort();
		options.signal?.addEventListener('abort', abort, { once: true });
		try {
			return await request(() => this.connection.sendRequest<P, R, void>(type, { ...params, workDoneToken } as RequestParam<P>, cancellation.token));
		} finally {
			options.signal?.removeEventListener('abort', abort);
			progress?.dispose();
			cancellation.dispose();
		}
	}

	/** Starts a kernel as the user in one of their environments; open a KernelForwarder to use it. */
	async startKernel(params: KernelStartParams): Promise<Kernel> {
		return (await request(() => this.connection.sendRequest(KernelStartRequest.type, params))).kernel;
	}

	async listKernels(): Promise<Kernel[]> {
		return (await request(() => this.connection.sendRequest(KernelListRequest.type))).kernels;
	}

	async attachKernel(id: string): Promise<Kernel> {
		return (await request(() => this.connection.sendRequest(KernelAttachRequest.type, { id }))).kernel;
	}

	async interruptKernel(id: string): Promise<void> {
		await request(() => this.connection.sendRequest(KernelInterruptRequest.type, { id }));
	}

	async restartKernel(id: string): Promise<Kernel> {
		return (await request(() => this.connection.sendRequest(KernelRestartRequest.type, { id }))).kernel;
	}

	async shutdownKernel(id: string): Promise<void> {
		await request(() => this.connection.sendRequest(KernelShutdownRequest.type, { id }));
	}

	/** A single-use token for one tunnel connection to one channel; the forwarder asks for these. */
	connectKernel(id: string, channel: KernelChannel): Promise<KernelConnectResult> {
		return request(() => this.connection.sendRequest(KernelConnectRequest.type, { id, channel }));
	}

	/** What the server offers this user after login: Slurm and its partitions, as the user sees them. */
	serverCapabilities(): Promise<ServerCapabilitiesResult> {
		return request(() => this.connection.sendRequest(ServerCapabilitiesRequest.type));
	}

	/** Called with every kernel state change and exit of the user's kernels, and every change of a Slurm kernel's job. */
	onKernelEvent(
		listener: (
			event:
				| { type: 'state'; params: KernelDidChangeStateParams }
				| { type: 'exit'; params: KernelDidExitParams }
				| { type: 'job'; params: KernelDidChangeJobParams },
		) => void,
	): () => void {
		const subscriptions = [
			this.connection.onNotification(KernelDidChangeJobNotification.type, (params) => listener({ type: 'job', params })),
			this.connection.onNotification(KernelDidChangeStateNotification.type, (params) => listener({ type: 'state', params })),
			this.connection.onNotification(KernelDidExitNotification.type, (params) => listener({ type: 'exit', params })),
		];
		return () => subscriptions.forEach((subscription) => subscription.dispose());
	}

	/** Ends the connection politely: shutdown, exit, close. */
	async close(): Promise<void> {
		if (this.closed) return;
		this.closed = true;
		try {
			await Promise.race([request(() => this.connection.sendRequest(ShutdownRequest.type)), new Promise((resolve) => setTimeout(resolve, 2000))]);
			await this.connection.sendNotification(ExitNotification.type);
		} catch {
			// The peer may already be gone; closing is all that is left to do.
		}
		this.connection.dispose();
		this.socket.end();
		this.socket.destroySoon();
	}

	/** Drops the connection without a goodbye, as a crash or a lost network would. */
	destroy(): void {
		this.closed = true;
		this.connection.dispose();
		this.socket.destroy();
	}

	get isClosed(): boolean {
		return this.closed || this.socket.destroyed;
	}
}

/** Opens a session: `await connect({ host }).then((s) => s.loginWithPassword(user, password))`. */
export function connect(options: ConnectOptions): Promise<RemoteSession> {
	return RemoteSession.connect(options);
}

async function request<T>(send: () => Promise<T>): Promise<T> {
	try {
		return await send();
	} catch (error) {
		throw RemoteError.from(error);
	}
}
