/**
 * The TLS half of a connection to a spyder-remote server: the socket, and
 * the decision to trust its certificate (a pin given or kept in
 * known_hosts, a CA-verified name, or the user's consent).
 */
import { isIP } from 'node:net';
import { checkServerIdentity, connect as tlsConnect, type TLSSocket } from 'node:tls';
import { ALPN_PROTOCOL, DEFAULT_PORT } from '@spyder-remote/protocol';
import { fingerprintOf } from '@spyder-remote/protocol/node';
import { HostKeyMismatchError, UnknownHostError } from './errors.js';
import { hostKey, KnownHosts } from './known-hosts.js';

export interface HostInfo {
	readonly host: string;
	readonly port: number;
	readonly fingerprint: string;
}

/** Where to connect and whom to trust there. */
export interface TlsConnectOptions {
	readonly host: string;
	readonly port?: number;
	/** Expected certificate fingerprint (`SHA256:…`). It wins over known_hosts and is pinned when it matches. */
	readonly fingerprint?: string;
	/** Where pins live; `false` keeps nothing. Default: known_hosts in the client config dir. */
	readonly knownHosts?: KnownHosts | false;
	/**
	 * Asked when the server has no pin and no CA vouches for it: resolve true
	 * to trust the presented fingerprint (it is then pinned). Default: refuse.
	 */
	readonly onUnknownHost?: (host: HostInfo) => boolean | Promise<boolean>;
	readonly connectTimeoutMs?: number;
	/**
	 * The fingerprint a discovery announcement carried. It is unauthenticated
	 * and never trusted; if the certificate presented differs, `onWarning` is
	 * told (default: a process warning on stderr) and the checks above decide.
	 */
	readonly announcedFingerprint?: string;
	readonly onWarning?: (message: string) => void;
}

/** A TLS socket to the server whose certificate passed the checks in `options`; destroyed, and the promise rejected, when it did not. */
export async function connectVerified(options: TlsConnectOptions): Promise<{ socket: TLSSocket; server: HostInfo }> {
	const port = options.port ?? DEFAULT_PORT;
	const socket = await openTls(options.host, port, ALPN_PROTOCOL, options.connectTimeoutMs ?? 10_000);
	try {
		return { socket, server: await verifyServer(socket, options.host, port, options) };
	} catch (error) {
		socket.destroy();
		throw error;
	}
}

/**
 * TLS 1.3 to a spyder-remote server, offering one ALPN id and refusing a
 * server that does not select it. Trust is decided by the caller, from the
 * certificate: a pin, a CA-verified name, or the user's consent.
 */
export function openTls(host: string, port: number, alpn: string, timeoutMs: number): Promise<TLSSocket> {
	return new Promise((resolve, reject) => {
		const socket = tlsConnect({
			host,
			port,
			servername: isIP(host) ? undefined : host,
			ALPNProtocols: [alpn],
			minVersion: 'TLSv1.3',
			rejectUnauthorized: false,
		});
		socket.setNoDelay(true);
		const timer = setTimeout(() => socket.destroy(new Error(`connecting to ${hostKey(host, port)} timed out after ${timeoutMs} ms`)), timeoutMs);
		socket.once('secureConnect', () => {
			clearTimeout(timer);
			socket.off('error', reject);
			if (socket.alpnProtocol !== alpn) {
				socket.destroy();
				reject(new Error(`${hostKey(host, port)} did not agree to ALPN ${alpn}: it is not a spyder-remote server`));
				return;
			}
			resolve(socket);
		});
		socket.once('error', (error) => {
			clearTimeout(timer);
			reject(error);
		});
	});
}

async function verifyServer(socket: TLSSocket, host: string, port: number, options: TlsConnectOptions): Promise<HostInfo> {
	const certificate = socket.getPeerCertificate();
	const presented = fingerprintOf(certificate.raw);
	if (options.announcedFingerprint !== undefined && options.announcedFingerprint !== presented)
		warnAnnouncementMismatch(options, hostKey(host, port), presented);
	const server = { host, port, fingerprint: presented };
	const knownHosts = options.knownHosts === false ? undefined : (options.knownHosts ?? new KnownHosts());
	const label = hostKey(host, port);
	if (options.fingerprint) {
		if (options.fingerprint !== presented) throw new HostKeyMismatchError(label, options.fingerprint, presented, { kind: 'option' });
		await knownHosts?.pin(host, port, presented);
		return server;
	}
	const pinned = await knownHosts?.lookup(host, port);
	if (pinned) {
		if (pinned !== presented) throw new HostKeyMismatchError(label, pinned, presented, { kind: 'known-hosts', file: knownHosts!.file });
		return server;
	}
	// A CA-vouched certificate is trusted by name, not pinned, so that routine renewals keep working.
	if (socket.authorized && checkServerIdentity(host, certificate) === undefined) return server;
	if (await options.onUnknownHost?.(server)) {
		await knownHosts?.pin(host, port, presented);
		return server;
	}
	throw new UnknownHostError(label, presented);
}

function warnAnnouncementMismatch(options: TlsConnectOptions, label: string, presented: string): void {
	const message =
		`${label} presented the certificate ${presented}, but its discovery announcement said ${options.announcedFingerprint}. ` +
		'Someone on the local network may be sending false announcements, or the server has a new certificate. The announcement is not trusted either way.';
	(options.onWarning ?? ((text: string) => process.emitWarning(text, 'DiscoveryWarning')))(message);
}
