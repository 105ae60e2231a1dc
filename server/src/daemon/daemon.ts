import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { createSecureContext, TLSSocket } from 'node:tls';
import { ALPN_PROTOCOL, TUNNEL_ALPN_PROTOCOL } from '@spyder-remote/protocol';
import { isSystemMode, type ServerConfig } from '../config.js';
import { startDiscovery } from '../discovery/start-responder.js';
import type { Logger } from '../log.js';
import { SERVER_VERSION } from '../version.js';
import { lookupAccount, type Account } from './accounts.js';
import { readAuthorizedKeys } from './authorized-keys.js';
import { ensureIdentity } from './certificate.js';
import { verifyEd25519 } from './ed25519.js';
import { reapLeftovers } from './leftovers.js';
import { LoginConnection, type LoginServices } from './login-connection.js';
import { pamAuthenticate, pamServiceFor } from './pam.js';
import { SessionHosts } from './session-hosts.js';
import { relayTunnel } from './tunnel-relay.js';
import { LoginThrottle, StartupLimiter } from './throttle.js';

export interface RunningServer {
	readonly host: string;
	readonly port: number;
	readonly fingerprint: string;
	readonly certFile: string;
	readonly system: boolean;
	/** Session hosts currently running. */
	readonly sessionHostCount: number;
	close(): Promise<void>;
}

/**
 * The daemon: TLS, login and the relay to per-user session hosts. This is
 * the only part of spyder-remote that runs as root in system mode.
 */
export async function startServer(config: ServerConfig, logger: Logger): Promise<RunningServer> {
	const system = isSystemMode(config);
	if (system && process.geteuid?.() !== 0) throw new Error("mode 'system' needs root; use mode 'personal' to serve only your own account");
	const identity = await ensureIdentity({ stateDir: config.stateDir, certFile: config.tls.certFile, keyFile: config.tls.keyFile, hostnames: config.tls.hostnames });
	if (identity.created) logger.info({ certFile: identity.certFile, fingerprint: identity.fingerprint }, 'created a self-signed certificate');
	const secureContext = createSecureContext({ cert: identity.cert, key: identity.key, minVersion: 'TLSv1.3' });
	const pamService = pamServiceFor(config.auth.pamService);
	const ownUid = process.getuid!();

	const sessionHosts = new SessionHosts({
		system,
		runtimeDir: config.runtimeDir,
		startTimeoutMs: config.sessionHost.startTimeout * 1000,
		logger,
		settings: {
			limits: config.limits,
			idleTimeout: config.sessionHost.idleTimeout,
			logLevel: config.logLevel,
			keyRegistration: config.auth.methods.includes('publicKey'),
			environments: config.environments,
			kernelLease: config.kernels.lease,
			warmPool: config.kernels.warmPool,
		},
	});
	const throttle = new LoginThrottle({ baseDelayMs: config.auth.failureDelayMs, maxDelayMs: config.auth.maxFailureDelayMs });
	const startups = new StartupLimiter(config.auth.maxStartups);
	// Sessions wait until the leftovers of an earlier daemon are stopped (below): no session host ever runs beside a reaper.
	let leftoversStopped!: () => void;
	const noLeftovers = new Promise<void>((resolve) => (leftoversStopped = resolve));

	/** Personal mode serves its own account only; in either mode root needs auth.permitRoot. */
	const mayLogIn = (account: Account) => (account.uid !== 0 || config.auth.permitRoot) && (system || account.uid === ownUid);

	const services: Omit<LoginServices, 'logger'> = {
		maxMessageBytes: config.limits.maxMessageBytes,
		maxHeaderBytes: config.limits.maxHeaderBytes,
		maxAuthTries: config.auth.maxAuthTries,
		authMethods: config.auth.methods,
		serverInfo: { name: 'ssd-server', version: SERVER_VERSION },
		capabilities: {
			authMethods: config.auth.methods,
			keyRegistration: config.auth.methods.includes('publicKey'),
			environments: { create: config.environments.create, administer: config.environments.administer !== 'none' },
			kernels: { kinds: ['spyder', 'ipykernel'], leaseSeconds: config.kernels.lease },
		},
		waitBeforeLogin: (source, user) => throttle.waitFor(source, user),
		recordLogin: (source, user, ok) => (ok ? throttle.recordSuccess(source, user) : throttle.recordFailure(source, user)),
		async verifyPassword(user, password, source) {
			const outcome = await pamAuthenticate({ service: pamService, user, password, remoteHost: source });
			if (!outcome.ok) {
				logger.debug({ user, reason: outcome.reason }, 'PAM refused');
				return undefined;
			}
			const account = await lookupAccount(user);
			return account && mayLogIn(account) ? account : undefined;
		},
		async verifyKey(user, publicKey, signature, payload) {
			const account = await lookupAccount(user);
			if (!account || !mayLogIn(account)) return undefined;
			// Membership first: a random key must not make the daemon do a signature check at all.
			if (!(await readAuthorizedKeys(account)).includes(publicKey)) return undefined;
			return verifyEd25519(publicKey, signature, payload) ? account : undefined;
		},
		async openSession(account) {
			await noLeftovers;
			return sessionHosts.connect(account);
		},
	};

	const sockets = new Set<Socket>();
	let unauthenticated = 0;
	let nextConnectionId = 1;

	const accept = (raw: Socket) => {
		if (startups.shouldDrop(unauthenticated)) {
			logger.warn({ peer: raw.remoteAddress, unauthenticated }, 'dropping connection: too many unauthenticated connections (maxStartups)');
			raw.destroy();
			return;
		}
		const connectionLogger = logger.child({ conn: nextConnectionId++, peer: raw.remoteAddress });
		sockets.add(raw);
		// A vanished peer (cable pulled, laptop asleep) is noticed and its session released.
		raw.setKeepAlive(true, 60_000);
		unauthenticated += 1;
		let pendingLogin = true;
		const loggedIn = () => {
			if (!pendingLogin) return;
			pendingLogin = false;
			unauthenticated -= 1;
			clearTimeout(graceTimer);
		};
		const graceTimer = setTimeout(() => {
			connectionLogger.info({ seconds: config.auth.loginGraceTime }, 'closing connection: login grace time expired');
			raw.destroy();
		}, config.auth.loginGraceTime * 1000);
		raw.once('close', () => {
			loggedIn();
			sockets.delete(raw);
			connectionLogger.debug('connection closed');
		});
		const tlsSocket = new TLSSocket(raw, { isServer: true, secureContext, ALPNProtocols: [ALPN_PROTOCOL, TUNNEL_ALPN_PROTOCOL] });
		tlsSocket.on('error', (error) => connectionLogger.debug({ err: error.message }, 'connection error'));
		tlsSocket.once('secure', () => {
			if (tlsSocket.alpnProtocol === TUNNEL_ALPN_PROTOCOL) {
				void relayTunnel(tlsSocket, (uid, tokenLine) => sessionHosts.openTunnel(uid, tokenLine), loggedIn, connectionLogger);
				return;
			}
			new LoginConnection(tlsSocket, { ...services, logger: connectionLogger }, (user) => {
				loggedIn();
				connectionLogger.info({ user }, 'relaying to session host');
			});
		});
	};

	const server: Server = createServer({ noDelay: true }, accept);
	server.on('error', (error) => logger.error({ err: error.message }, 'listener error'));
	await new Promise<void>((resolve, reject) => {
		server.once('error', reject);
		server.listen(config.listen.port, config.listen.host, () => {
			server.off('error', reject);
			resolve();
		});
	});
	const address = server.address() as AddressInfo;
	logger.info({ host: address.address, port: address.port, system, pamService, fingerprint: identity.fingerprint }, 'listening');
	// Only once the port is ours: a second daemon started by mistake on the same config then fails there (EADDRINUSE),
	// before it could stop the running daemon's sessions as leftovers.
	await reapLeftovers({ system, runtimeDir: config.runtimeDir, logger });
	leftoversStopped();
	// Announced only once listening, so whoever finds the server can connect at once.
	const discovery = await startDiscovery(config, { system, listenAddress: address.address, port: address.port, fingerprint: identity.fingerprint }, logger);

	return {
		host: address.address,
		port: address.port,
		fingerprint: identity.fingerprint,
		certFile: identity.certFile,
		system,
		get sessionHostCount() {
			return sessionHosts.count;
		},
		async close() {
			// Goodbye first, so that clients stop offering a server that no longer accepts.
			await discovery?.stop();
			await new Promise<void>((resolve) => {
				server.close(() => resolve());
				for (const socket of sockets) socket.destroy();
			});
			await sessionHosts.stopAll();
			logger.info('stopped');
		},
	};
}
