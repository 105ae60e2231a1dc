/**
 * Reads the TXT record of a `_spyder-remote._tcp` instance (spec §6.14).
 * Everything in it comes from the network unauthenticated: each value must
 * match a strict pattern, or the instance is not shown at all.
 */

/** RFC 6763 §6.2 asks TXT records to stay under 1300 bytes; ours are ~150. */
const MAX_TXT_BYTES = 1300;
const KNOWN_AUTH_METHODS = new Set(['password', 'publicKey']);

export interface AnnouncedInfo {
	readonly protocolVersion: string;
	readonly serverVersion: string;
	/** `SHA256:…` as announced: unauthenticated, for display and for comparing with the certificate at connect time. */
	readonly fingerprint: string;
	readonly authMethods: readonly string[];
	readonly os: string;
}

const patterns = {
	txtvers: /^1$/,
	protovers: /^\d{1,6}\.\d{1,6}\.\d{1,6}$/,
	srvvers: /^[0-9A-Za-z.+-]{1,64}$/,
	fp: /^SHA256:[A-Za-z0-9+/]{43}$/,
	auth: /^[A-Za-z]{1,32}(,[A-Za-z]{1,32}){0,7}$/,
	os: /^[A-Za-z0-9._-]{1,32}$/,
} as const;

type Key = keyof typeof patterns;

export function parseTxt(strings: readonly Uint8Array[]): AnnouncedInfo | undefined {
	if (strings.reduce((total, string) => total + string.length + 1, 0) > MAX_TXT_BYTES) return undefined;
	const values = new Map<Key, string>();
	for (const string of strings) {
		const text = Buffer.from(string).toString('utf8');
		const equals = text.indexOf('=');
		if (equals <= 0) continue;
		const key = text.slice(0, equals).toLowerCase();
		// RFC 6763 §6.4: only the first occurrence of a key counts.
		if (!(key in patterns) || values.has(key as Key)) continue;
		values.set(key as Key, text.slice(equals + 1));
	}
	for (const [key, pattern] of Object.entries(patterns) as [Key, RegExp][]) {
		const value = values.get(key);
		if (value === undefined || !pattern.test(value)) return undefined;
	}
	return {
		protocolVersion: values.get('protovers')!,
		serverVersion: values.get('srvvers')!,
		fingerprint: values.get('fp')!,
		authMethods: [...new Set(values.get('auth')!.split(','))].filter((method) => KNOWN_AUTH_METHODS.has(method)),
		os: values.get('os')!,
	};
}
