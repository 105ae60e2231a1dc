import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { createSecureContext, TLSSocket } from 'node:tls';
import { ALPN_PROTOCOL, NODE_AGENT_ALPN_PROTOCOL, TUNNEL_ALPN_PROTOCOL } from '@spyder-remote/protocol';
import { NODE_PREFIX } from '../common/node-link.js';
import { TUNNEL_PREFIX } from '../common/host-wire.js';
import { DescriptorBudget, descriptorLimit, descriptorReserve } from '../common/rlimit.js';
import { isSystemMode, type ServerConfig } from './config.js';
import { startDiscovery } from './responder-launcher.js';
import type { Logger } from '../common/log.js';
import { SERVER_VERSION } from '../common/version.js';
import { lookupAccount, type Account } from './accounts.js';
import { readAuthorizedKeys } from './authorized-keys.js';
import { ensureIdentity } from './certificate.js';
import { verifyEd25519 } from './ed25519.js';
import { markHandedOver, reapLeftovers } from './leftovers.js';
import { LoginConnection, PreLoginBudget, type LoginServices } from './login-connection.js';
import { loginPolicy, readBannerFile } from './login-policy.js';
import { pamAuthenticate, pamCheckAccount, pamOpenSession, pamServiceFor } from './pam.js';
import { SessionHosts } from './session-hosts.js';
import { relayTunnel } from './tunnel-relay.js';
import { LoginThrottle, parsePenalties, SourceLimits, StartupLimiter } from './throttle.js';

export interface RunningServer {
	readonly host: string;
	readonly port: number;
	readonly fingerprint: string;
	readonly certFile: string;
	readonly system: boolean;
	/** Session hosts currently running. */
	readonly sessionHostCount: number;
	/** With `handOver` (a restart under systemd), session hosts leave their kernels running for the next daemon to take over. */
	close(options?: { handOver?: boolean }): Promise<void>;
}

/**
 * The daemon: TLS, login and the relay to per-user session hosts. This is
 * the only part of spyder-remote that runs as root in system mode.
 */
export async function startServer(config: ServerConfig, logger: Logger): Promise<RunningServer> {
	const system = isSystemMode(config);
	if (system && process.geteuid?.() !== 0) throw new Error("mode 'system' needs root; use mode 'personal' to serve only your own account");
	const identity = await ensureIdentity({
		stateDir: config.stateDir,
		certFile: config.tls.certFile,
		keyFile: config.tls.keyFile,
		hostnames: config.tls.hostnames,
	});
	if (identity.created) logger.info({ certFile: identity.certFile, fingerprint: identity.fingerprint }, 'created a self-signed certificate');
	const secureContext = createSecureContext({ cert: identity.cert, key: identity.key, minVersion: 'TLSv1.3' });
	const pamService = pamServiceFor(config.auth.pamService);
	const ownUid = process.getuid!();
	// The port is known only once listening (port 0 picks one); hosts start after that, so they read it filled in.
	const nodeAgentDial = { port: config.listen.port, fingerprint: identity.fingerprint };

	const sessionHosts = new SessionHosts({
		system,
		runtimeDir: config.runtimeDir,
		startTimeoutMs: config.sessionHost.startTimeout * 1000,
		logger,
		// Personal mode is no login: the server already runs as the user, with the user's own session.
		openLoginSession: system ? (account) => openPamSession(account) : undefined,
		settings: {
			limits: config.limits,
			idleTimeout: config.sessionHost.idleTimeout,
			logLevel: config.logLevel,
			keyRegistration: config.auth.methods.includes('publicKey'),
			environments: config.environments,
			kernelLease: config.kernels.lease,
			warmPool: config.kernels.warmPool,
			slurm: config.slurm,
			nodeAgentDial,
		},
	});
	const [v4Bits, v6Bits = 64] = config.auth.perSourceNetBlockSize.split(':').map(Number);
	const sources = new SourceLimits({
		maxStartups: config.auth.perSourceMaxStartups === 'none' ? undefined : config.auth.perSourceMaxStartups,
		penalties: parsePenalties(config.auth.perSourcePenalties),
		netBlockSize: [v4Bits!, v6Bits],
		exempt: config.auth.perSourceExempt,
	});
	const throttle = new LoginThrottle({
		baseDelayMs: config.auth.failureDelayMs,
		maxDelayMs: config.auth.maxFailureDelayMs,
		onFailure: (peer) => {
			const source = sources.sourceOf(peer);
			if (source) sources.penalise(source, 'authfail');
		},
	});
	const startups = new StartupLimiter(config.auth.maxStartups, config.auth.startupQueue);
	const descriptorSoftLimit = descriptorLimit().soft;
	const descriptors = new DescriptorBudget(descriptorSoftLimit, descriptorReserve(descriptorSoftLimit));
	// Sessions wait until the leftovers of an earlier daemon are stopped (below): no session host ever runs beside a reaper.
	let leftoversStopped!: () => void;
	const noLeftovers = new Promise<void>((resolve) => (leftoversStopped = resolve));

	const loginRefusal = loginPolicy(config.auth, { system, ownUid });
	const banner = config.auth.bannerFile === undefined ? undefined : await readBannerFile(config.auth.bannerFile);

	/** The account if policy and PAM's account stack let it in; every refusal looks like a wrong password to the client. */
	async function admit(account: Account, source: string, authenticatedByPam: boolean): Promise<Account | undefined> {
		const refusal = await loginRefusal(account);
		if (refusal) {
			logger.info({ user: account.name, reason: refusal }, 'login refused by policy');
			return undefined;
		}
		// pam_authenticate's transaction has run the account stack already.
		if (authenticatedByPam) return account;
		const outcome = await pamCheckAccount({ service: pamService, user: account.name, remoteHost: source });
		if (!outcome.ok) {
			logger.info({ user: account.name, reason: outcome.reason }, 'login refused by PAM account management');
			return undefined;
		}
		return account;
	}

	async function openPamSession(account: Account) {
		const outcome = await pamOpenSession({ service: pamService, user: account.name });
		if (!outcome.ok) throw new Error(`PAM refused the session: ${outcome.reason}`);
		return outcome.session;
	}

	const maxPreLoginMessageBytes = Math.min(config.limits.maxPreLoginMessageBytes, config.limits.maxMessageBytes);
	// A connection's share always holds one whole frame, or a paused connection could wait for the rest of it for ever.
	const preLoginBudget = new PreLoginBudget(
		Math.max(config.limits.maxPreLoginQueueBytes, maxPreLoginMessageBytes + config.limits.maxHeaderBytes),
		config.limits.maxPreLoginTotalBytes,
	);
	const services: Omit<LoginServices, 'logger'> = {
		maxPreLoginMessageBytes,
		maxHeaderBytes: config.limits.maxHeaderBytes,
		preLoginBudget,
		maxAuthTries: config.auth.maxAuthTries,
		authMethods: config.auth.methods,
		serverInfo: { name: 'ssd-server', version: SERVER_VERSION },
		banner,
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
			return account && admit(account, source, true);
		},
		async verifyKey(user, publicKey, signature, payload, source) {
			const account = await lookupAccount(user);
			if (!account) return undefined;
			// Membership first: a random key must not make the daemon do a signature check at all.
			if (!(await readAuthorizedKeys(account)).includes(publicKey)) return undefined;
			return verifyEd25519(publicKey, signature, payload) ? admit(account, source, false) : undefined;
		},
		async openSession(account, sessionLogger) {
			await noLeftovers;
			return sessionHosts.connect(account, sessionLogger);
		},
	};

	const sockets = new Set<Socket>();
	let nextConnectionId = 1;

	/** Closes a connection before any TLS. A flood is logged once a second per reason, with how many were refused. */
	const refusals = new Map<string, { count: number; loggedAt: number }>();
	const refuse = (raw: Socket, reason: string, details: object) => {
		raw.destroy();
		const entry = refusals.get(reason) ?? { count: 0, loggedAt: 0 };
		refusals.set(reason, entry);
		entry.count += 1;
		if (Date.now() - entry.loggedAt < 1000) return;
		logger.warn({ peer: raw.remoteAddress, refused: entry.count, ...details }, `refusing connection: ${reason}`);
		entry.count = 0;
		entry.loggedAt = Date.now();
	};

	// Connections arrive paused (pauseOnConnect): one that waits for a login slot costs a descriptor, and no TLS state or buffers.
	const accept = (raw: Socket) => {
		raw.on('error', () => undefined);
		const source = sources.sourceOf(raw.remoteAddress);
		const verdict = source === undefined ? 'admit' : sources.verdict(source);
		if (verdict !== 'admit') {
			refuse(
				raw,
				verdict === 'penalised'
					? 'its source is penalised (perSourcePenalties)'
					: 'too many unauthenticated connections from its source (perSourceMaxStartups)',
				{},
			);
			return;
		}
		if (!descriptors.admit()) {
			refuse(raw, 'too few file descriptors left', { descriptors: descriptors.estimate, limit: descriptors.limit, reserve: descriptors.reserve });
			return;
		}
		let started = false;
		const ticket = startups.enter(() => {
			started = true;
			begin();
		});
		if (!ticket) {
			refuse(raw, 'too many unauthenticated connections (maxStartups)', { unauthenticated: startups.count });
			return;
		}
		const connectionLogger = logger.child({ conn: nextConnectionId++, peer: raw.remoteAddress });
		sockets.add(raw);
		if (source) sources.opened(source);
		let pendingLogin = true;
		let graceExpired = false;
		const loggedIn = () => {
			if (!pendingLogin) return;
			pendingLogin = false;
			ticket.release();
			if (source) sources.closed(source);
			clearTimeout(graceTimer);
		};
		// The grace time runs from accept, so it also bounds the wait for a slot.
		const graceTimer = setTimeout(() => {
			graceExpired = true;
			connectionLogger.info({ seconds: config.auth.loginGraceTime, waitedForSlot: !started }, 'closing connection: login grace time expired');
			raw.destroy();
		}, config.auth.loginGraceTime * 1000);
		raw.once('close', () => {
			// Only what the peer did counts against its source: not a wait in our queue.
			const penalty = pendingLogin && started && source ? (graceExpired ? 'grace-exceeded' : 'noauth') : undefined;
			loggedIn();
			if (penalty) sources.penalise(source!, penalty);
			sockets.delete(raw);
			connectionLogger.debug('connection closed');
		});

		function begin() {
			// A vanished peer (cable pulled, laptop asleep) is noticed and its session released.
			raw.setKeepAlive(true, 60_000);
			const tlsSocket = new TLSSocket(raw, { isServer: true, secureContext, ALPNProtocols: [ALPN_PROTOCOL, TUNNEL_ALPN_PROTOCOL, NODE_AGENT_ALPN_PROTOCOL] });
			tlsSocket.on('error', (error) => connectionLogger.debug({ err: error.message }, 'connection error'));
			tlsSocket.once('secure', () => {
				if (tlsSocket.alpnProtocol === TUNNEL_ALPN_PROTOCOL) {
					void relayTunnel(tlsSocket, (uid, tokenLine) => sessionHosts.openTunnel(uid, `${TUNNEL_PREFIX}${tokenLine}`), loggedIn, connectionLogger);
					return;
				}
				// A node agent's dial-back (spec 6.15): relayed as a tunnel is, to a link the host keeps; the host also learns the peer's address, to check it against the job's node.
				if (tlsSocket.alpnProtocol === NODE_AGENT_ALPN_PROTOCOL) {
					void relayTunnel(
						tlsSocket,
						(uid, tokenLine) => sessionHosts.openTunnel(uid, `${NODE_PREFIX}${raw.remoteAddress ?? ''} ${tokenLine}`),
						loggedIn,
						connectionLogger,
					);
					return;
				}
				new LoginConnection(tlsSocket, { ...services, logger: connectionLogger }, (user) => {
					loggedIn();
					connectionLogger.info({ user }, 'relaying to session host');
				});
			});
			raw.resume();
		}
	};

	const server: Server = createServer({ noDelay: true, pauseOnConnect: true }, accept);
	// Accept errors (EMFILE, ENFILE: libuv then accepts and closes the connection) leave the listener listening: logged, at most once a second.
	let listenerErrors = 0;
	let lastListenerLog = 0;
	server.on('error', (error) => {
		listenerErrors += 1;
		if (Date.now() - lastListenerLog < 1000) return;
		lastListenerLog = Date.now();
		logger.error({ err: error.message, count: listenerErrors }, 'listener error');
		listenerErrors = 0;
	});
	await new Promise<void>((resolve, reject) => {
		server.once('error', reject);
		server.listen(config.listen.port, config.listen.host, () => {
			server.off('error', reject);
			resolve();
		});
	});
	const address = server.address() as AddressInfo;
	nodeAgentDial.port = address.port;
	logger.info({ host: address.address, port: address.port, system, pamService, fingerprint: identity.fingerprint }, 'listening');
	// Only once the port is ours: a second daemon started by mistake on the same config then fails there (EADDRINUSE),
	// before it could stop the running daemon's sessions as leftovers.
	const handedOver = await reapLeftovers({
		system,
		runtimeDir: config.runtimeDir,
		logger,
		mayKeep: async (account) => (await loginRefusal(account)) === undefined,
	});
	leftoversStopped();
	// Kernels handed over by a restart get their session host now, not at the user's next login: it adopts them and runs their lease.
	for (const account of handedOver) {
		void sessionHosts.connect(account, logger).then(
			(socket) => socket.destroy(),
			(error: Error) => logger.warn({ user: account.name, err: error.message }, 'could not start the session host that adopts the kernels handed over'),
		);
	}
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
		async close({ handOver = false } = {}) {
			// Goodbye first, so that clients stop offering a server that no longer accepts.
			await discovery?.stop();
			await new Promise<void>((resolve) => {
				server.close(() => resolve());
				for (const socket of sockets) socket.destroy();
			});
			await sessionHosts.stopAll({ handOver });
			const marked = handOver && (await markHandedOver(config.runtimeDir, logger));
			// A host that had to be killed (it did not stop in time) left its kernels: a stop leaves nothing running.
			if (!marked) await reapLeftovers({ system, runtimeDir: config.runtimeDir, logger });
			logger.info({ handOver }, 'stopped');
		},
	};
}
