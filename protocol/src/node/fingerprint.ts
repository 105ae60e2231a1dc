import { createHash } from 'node:crypto';

/** `SHA256:` and unpadded base64 of the digest, the format OpenSSH prints. */
export function fingerprintOf(bytes: Uint8Array): string {
	return `SHA256:${createHash('sha256').update(bytes).digest('base64').replace(/=+$/, '')}`;
}
