import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import nacl from 'tweetnacl';
import { fingerprintOf } from '@spyder-remote/protocol/node';
import { clientConfigDir } from './paths.js';

export interface KeyPair {
	readonly publicKey: Uint8Array;
	readonly secretKey: Uint8Array;
}

export function defaultKeyFile(): string {
	return join(clientConfigDir(), 'id_ed25519');
}

export function publicKeyText(keyPair: KeyPair): string {
	return Buffer.from(keyPair.publicKey).toString('base64');
}

export function keyFingerprint(keyPair: KeyPair): string {
	return fingerprintOf(keyPair.publicKey);
}

export function sign(keyPair: KeyPair, payload: Uint8Array): string {
	return Buffer.from(nacl.sign.detached(payload, keyPair.secretKey)).toString('base64');
}

/** The client's Ed25519 key pair, or undefined when none was made yet. */
export async function loadKeyPair(file = defaultKeyFile()): Promise<KeyPair | undefined> {
	let text: string;
	try {
		text = await readFile(file, 'utf8');
	} catch (error) {
		if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
		throw error;
	}
	const stored = JSON.parse(text) as { type?: string; secretKey?: string };
	const secretKey = Buffer.from(stored.secretKey ?? '', 'base64');
	if (stored.type !== 'ed25519' || secretKey.length !== nacl.sign.secretKeyLength) throw new Error(`${file} is not an ed25519 key file`);
	return nacl.sign.keyPair.fromSecretKey(new Uint8Array(secretKey));
}

/** Loads the key pair, making and saving one (mode 0600) on first use. */
export async function loadOrCreateKeyPair(file = defaultKeyFile()): Promise<KeyPair> {
	const existing = await loadKeyPair(file);
	if (existing) return existing;
	const keyPair = nacl.sign.keyPair();
	await mkdir(dirname(file), { recursive: true, mode: 0o700 });
	const stored = { type: 'ed25519', publicKey: publicKeyText(keyPair), secretKey: Buffer.from(keyPair.secretKey).toString('base64') };
	await writeFile(file, `${JSON.stringify(stored)}\n`, { mode: 0o600, flag: 'wx' });
	return keyPair;
}
