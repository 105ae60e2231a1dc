import { X509Certificate, webcrypto } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { isIP } from 'node:net';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';
import { fingerprintOf } from '@spyder-remote/protocol/node';

export interface ServerIdentity {
	readonly cert: string;
	readonly key: string;
	readonly fingerprint: string;
	readonly certFile: string;
}

export function certificateFingerprint(pem: string): string {
	return fingerprintOf(new X509Certificate(pem).raw);
}

export function defaultCertificatePaths(stateDir: string): { certFile: string; keyFile: string } {
	return { certFile: join(stateDir, 'server.crt'), keyFile: join(stateDir, 'server.key') };
}

/** An ECDSA P-256 self-signed certificate: fast to make in-process, accepted by every TLS 1.3 stack. */
export async function generateSelfSigned(names: readonly string[]): Promise<{ cert: string; key: string }> {
	x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
	const algorithm = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
	const keys = await webcrypto.subtle.generateKey(algorithm, true, ['sign', 'verify']);
	const notBefore = new Date(Date.now() - 60_000);
	const certificate = await x509.X509CertificateGenerator.createSelfSigned({
		serialNumber: Buffer.from(webcrypto.getRandomValues(new Uint8Array(16)))
			.toString('hex')
			.replace(/^[89a-f]/, '1'),
		name: `CN=${names[0]!.replace(/[,=+<>#;\\"]/g, '_')}, O=spyder-remote`,
		notBefore,
		notAfter: new Date(notBefore.getTime() + 10 * 365 * 86_400_000),
		keys: keys as unknown as x509.X509CertificateCreateSelfSignedParams['keys'],
		signingAlgorithm: algorithm,
		extensions: [
			new x509.BasicConstraintsExtension(false, undefined, true),
			new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
			new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
			new x509.SubjectAlternativeNameExtension(
				names.map((name) => (isIP(name) ? { type: 'ip' as const, value: name } : { type: 'dns' as const, value: name })),
			),
		],
	});
	const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
	const key = `-----BEGIN PRIVATE KEY-----\n${Buffer.from(pkcs8)
		.toString('base64')
		.replace(/(.{64})/g, '$1\n')
		.trimEnd()}\n-----END PRIVATE KEY-----\n`;
	return { cert: certificate.toString('pem'), key };
}

/**
 * Loads the configured certificate, or the one in stateDir, making a
 * self-signed one there on first use. The key file is created 0600.
 */
export async function ensureIdentity(options: {
	stateDir: string;
	certFile?: string | undefined;
	keyFile?: string | undefined;
	hostnames: readonly string[];
}): Promise<ServerIdentity & { created: boolean }> {
	if ((options.certFile === undefined) !== (options.keyFile === undefined)) {
		throw new Error('tls.certFile and tls.keyFile must be set together');
	}
	const paths = options.certFile && options.keyFile ? { certFile: options.certFile, keyFile: options.keyFile } : defaultCertificatePaths(options.stateDir);
	let created = false;
	let cert: string;
	let key: string;
	try {
		[cert, key] = await Promise.all([readFile(paths.certFile, 'utf8'), readFile(paths.keyFile, 'utf8')]);
	} catch (error) {
		if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || options.certFile) throw error;
		({ cert, key } = await generateSelfSigned([hostname(), 'localhost', '127.0.0.1', '::1', ...options.hostnames]));
		await mkdir(options.stateDir, { recursive: true, mode: 0o700 });
		await writeFile(paths.keyFile, key, { mode: 0o600, flag: 'wx' });
		await writeFile(paths.certFile, cert, { mode: 0o644, flag: 'wx' });
		created = true;
	}
	return { cert, key, fingerprint: certificateFingerprint(cert), certFile: paths.certFile, created };
}
