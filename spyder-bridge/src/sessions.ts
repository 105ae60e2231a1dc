import { connect, ErrorCodes, KnownHosts, loadKeyPair, loadOrCreateKeyPair, keyFingerprint, type RemoteSession } from '@spyder-remote/client';
import type { MessageConnection } from 'vscode-jsonrpc/node';
import { BridgeError, toResponseError, type ErrorContext } from './errors.js';
import {
	BridgeErrorCodes,
	HostConfirmRequest,
	LogNotification,
	SessionDidCloseNotification,
	type SessionInfo,
	type SessionLoginResult,
	type SessionOpenParams,
	type SessionSaveKeyResult,
} from './protocol/main.js';
import { BRIDGE_VERSION } from './version.js';

export interface BridgeSession {
	readonly id: string;
	readonly remote: RemoteSession;
	info: SessionInfo;
	/** Set when the bridge itself closed the connection: no `session/closed` then. */
	closing: boolean;
}

/** The bridge's connections to servers, each known to the plugin by a short handle. */
export class Sessions {
	private readonly sessions = new Map<string, BridgeSession>();
	private readonly knownHosts = new KnownHosts();
	private counter = 0;
	/** Called when a connection ends, whoever ended it. */
	onClosed: (session: BridgeSession) => void = () => undefined;

	constructor(private readonly plugin: MessageConnection) {}

	get all(): BridgeSession[] {
		return [...this.sessions.values()];
	}

	get(id: string): BridgeSession {
		const session = this.sessions.get(id);
		if (!session || session.remote.isClosed) throw new BridgeError(BridgeErrorCodes.NoSession, 'The connection to this server is closed. Connect again.');
		return session;
	}

	/** Runs a request to the session's server; a failure becomes a sentence that names the server. */
	async call<T>(session: BridgeSession, action: () => Promise<T>): Promise<T> {
		try {
			return await action();
		} catch (error) {
			throw toResponseError(error, this.context(session));
		}
	}

	private context(session: BridgeSession): ErrorContext {
		return { server: `${session.info.label} (${session.info.host}:${session.info.port})`, knownHostsFile: this.knownHosts.file };
	}

	/** Connects and checks the certificate; a server without a pin is shown to the user through `host/confirm`. */
	async open(params: SessionOpenParams): Promise<SessionInfo> {
		const label = params.label || params.host;
		const context = { server: params.port ? `${params.host}:${params.port}` : params.host, knownHostsFile: this.knownHosts.file };
		let remote: RemoteSession;
		try {
			remote = await connect({
				host: params.host,
				port: params.port,
				knownHosts: this.knownHosts,
				clientInfo: { name: 'spyder-remote-bridge', version: BRIDGE_VERSION },
				announcedFingerprint: params.announcedFingerprint,
				onWarning: (message) => void this.plugin.sendNotification(LogNotification.type, { level: 'warning', message }),
				onUnknownHost: async (server) => {
					const announced =
						params.announcedFingerprint !== undefined && params.announcedFingerprint !== server.fingerprint
							? { announcedFingerprint: params.announcedFingerprint }
							: {};
					const answer = await this.plugin.sendRequest(HostConfirmRequest.type, {
						host: server.host,
						port: server.port,
						fingerprint: server.fingerprint,
						...announced,
					});
					return answer.trust === true;
				},
			});
		} catch (error) {
			throw toResponseError(error, context);
		}
		const id = `s${++this.counter}`;
		const { serverInfo, capabilities } = remote.initializeResult;
		const info: SessionInfo = {
			session: id,
			host: remote.server.host,
			port: remote.server.port,
			label,
			fingerprint: remote.server.fingerprint,
			serverName: serverInfo.name,
			serverVersion: serverInfo.version ?? 'unknown',
			authMethods: capabilities.authMethods,
		};
		const session: BridgeSession = { id, remote, info, closing: false };
		this.sessions.set(id, session);
		remote.connection.onClose(() => {
			this.sessions.delete(id);
			this.onClosed(session);
			if (!session.closing)
				void this.plugin.sendNotification(SessionDidCloseNotification.type, {
					session: id,
					reason: `The connection to ${label} was lost. Kernels there keep running; connect again to re-attach.`,
				});
		});
		return info;
	}

	async login(id: string, user: string, password: string | undefined): Promise<SessionLoginResult> {
		const session = this.get(id);
		const context = { ...this.context(session), user };
		try {
			let method: SessionLoginResult['method'];
			if (password === undefined) {
				const keyPair = await loadKeyPair();
				if (!keyPair)
					throw new BridgeError(
						BridgeErrorCodes.NoKey,
						'No key is saved on this computer yet. Log in with your password once and tick "Remember a key instead of the password".',
					);
				await session.remote.loginWithKey(user, keyPair);
				method = 'publicKey';
			} else {
				await session.remote.loginWithPassword(user, password);
				method = 'password';
			}
			session.info = { ...session.info, user };
			return { info: session.info, whoami: await session.remote.whoami(), method };
		} catch (error) {
			const converted = toResponseError(error, context);
			if (password === undefined && converted.code === ErrorCodes.AuthenticationFailed) {
				throw new BridgeError(
					converted.code,
					`The key saved on this computer is not accepted for ${user} on ${session.info.label}. Log in with your password (and remember a key again).`,
				);
			}
			throw converted;
		}
	}

	/** Makes (once) this computer's key pair and lets it log in as the current user from now on. */
	async saveKey(id: string): Promise<SessionSaveKeyResult> {
		const session = this.get(id);
		return this.call(session, async () => {
			const keyPair = await loadOrCreateKeyPair();
			await session.remote.registerKey(keyPair);
			return { fingerprint: keyFingerprint(keyPair) };
		});
	}

	async close(id: string): Promise<void> {
		const session = this.sessions.get(id);
		if (!session) return;
		session.closing = true;
		await session.remote.close();
	}

	async closeAll(): Promise<void> {
		await Promise.all(this.all.map((session) => this.close(session.id)));
	}
}
