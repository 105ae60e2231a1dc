import { createPublicKey, verify } from 'node:crypto';

/**
 * Ed25519 verification with OpenSSL. tweetnacl, which clients use to sign,
 * is pure JavaScript and takes 7-10 ms per check here; on the daemon's one
 * thread that would stall every relayed connection at each key login.
 * OpenSSL takes about 0.3 ms. Both implement RFC 8032, so signatures agree.
 */
export function verifyEd25519(publicKey: string, signature: string, payload: Uint8Array): boolean {
	try {
		const key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(publicKey, 'base64').toString('base64url') }, format: 'jwk' });
		return verify(null, payload, key, Buffer.from(signature, 'base64'));
	} catch {
		return false;
	}
}
