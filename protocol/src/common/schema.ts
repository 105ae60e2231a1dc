import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';

export { Type, type Static, type TSchema };

/**
 * Shared field types. Bounds are part of the contract: a peer that sends more
 * gets InvalidParams, never a partial result.
 */
export const UserName = Type.String({
	minLength: 1,
	maxLength: 256,
	// What useradd accepts, minus a leading dash so a name can never be read as an option.
	pattern: '^[A-Za-z0-9._][A-Za-z0-9._@-]*\\$?$',
	description: 'An OS account name.',
});

export const Password = Type.String({ minLength: 1, maxLength: 4096, description: 'The account password, sent only inside TLS.' });

export const Ed25519PublicKey = Type.String({
	pattern: '^[A-Za-z0-9+/]{43}=$',
	description: 'An Ed25519 public key: 32 bytes, standard base64.',
});

export const Ed25519Signature = Type.String({
	pattern: '^[A-Za-z0-9+/]{86}==$',
	description: 'An Ed25519 signature: 64 bytes, standard base64.',
});

export const Nonce = Type.String({ pattern: '^[A-Za-z0-9+/]{43}=$', description: '32 random bytes, standard base64.' });

export const Fingerprint = Type.String({
	pattern: '^SHA256:[A-Za-z0-9+/]{43}$',
	description: 'SHA-256 of a DER certificate or of a raw public key, as `SHA256:` and unpadded base64 (the OpenSSH style).',
});

export const ShortText = Type.String({ maxLength: 256 });

const compiled = new WeakMap<TSchema, TypeCheck<TSchema>>();

/**
 * Checks `value` against `schema`. Returns undefined when it conforms, else a
 * message naming the first offending path, for example
 * `/clientInfo/name: Expected string`.
 */
export function validate(schema: TSchema, value: unknown): string | undefined {
	let check = compiled.get(schema);
	if (!check) {
		check = TypeCompiler.Compile(schema);
		compiled.set(schema, check);
	}
	if (check.Check(value)) return undefined;
	const first = check.Errors(value).First();
	return first ? `${first.path || '/'}: ${first.message}` : 'does not match the schema';
}
