import { join } from 'node:path';

/**
 * The authorized keys file, shared knowledge of the daemon (which reads it to
 * verify key logins) and the session host (which appends to it as the user).
 * One key a line: `ed25519 <base64 public key> [comment]`; `#` starts a comment.
 */
export function authorizedKeysPath(home: string): string {
	return join(home, '.config', 'spyder-remote', 'authorized_keys');
}

export const MAX_AUTHORIZED_KEYS_BYTES = 256 * 1024;

const keyLine = /^ed25519\s+([A-Za-z0-9+/]{43}=)(?:\s+(.*))?$/;

export function parseAuthorizedKeys(text: string): { publicKey: string; comment: string }[] {
	const keys: { publicKey: string; comment: string }[] = [];
	for (const raw of text.split('\n')) {
		const match = keyLine.exec(raw.trim());
		if (match) keys.push({ publicKey: match[1]!, comment: match[2] ?? '' });
	}
	return keys;
}

export function formatAuthorizedKey(publicKey: string, comment = ''): string {
	return `ed25519 ${publicKey}${comment ? ` ${comment}` : ''}\n`;
}
