/**
 * The discovery record format (spec section 6.14): what a server announces
 * over mDNS and what a client accepts. The responder writes these records and
 * the client reads them, so both use what is defined here.
 */

/** The DNS-SD service type servers announce and clients browse. */
export const SERVICE_TYPE = '_spyder-remote._tcp.local';

/** mDNS (RFC 6762): queries and responses go to and from this UDP port. */
export const MDNS_PORT = 5353;

/** RFC 6762 §17: an mDNS message is at most 9000 bytes; anything larger is not one. */
export const MDNS_MAX_PACKET_BYTES = 9000;

/** The server's TCP port when none is configured, and the one clients try when none is given. */
export const DEFAULT_PORT = 7446;

/** RFC 6763 §6.2 asks TXT records to stay under 1300 bytes; ours are ~150. */
export const MAX_TXT_BYTES = 1300;

/** What a TXT record says. Everything in it is unauthenticated: for display, and for comparing with the certificate at connect time. */
export interface AnnouncedInfo {
	readonly protocolVersion: string;
	readonly serverVersion: string;
	/** `SHA256:…`, the certificate's fingerprint as the server announces it. */
	readonly fingerprint: string;
	readonly authMethods: readonly string[];
	readonly os: string;
}

/**
 * Each TXT key, in the order a server writes them, with the pattern its value
 * must match: a record with a value that does not match is not shown at all.
 */
export const TXT_PATTERNS = {
	txtvers: /^1$/,
	protovers: /^\d{1,6}\.\d{1,6}\.\d{1,6}$/,
	srvvers: /^[0-9A-Za-z.+-]{1,64}$/,
	fp: /^SHA256:[A-Za-z0-9+/]{43}$/,
	auth: /^[A-Za-z]{1,32}(,[A-Za-z]{1,32}){0,7}$/,
	os: /^[A-Za-z0-9._-]{1,32}$/,
} as const;

type TxtKey = keyof typeof TXT_PATTERNS;

const KNOWN_AUTH_METHODS = new Set(['password', 'publicKey']);

/** The TXT record's strings (RFC 6763 §6): `txtvers` first, then short keys. */
export function encodeTxt(info: AnnouncedInfo): string[] {
	return [
		'txtvers=1',
		`protovers=${info.protocolVersion}`,
		`srvvers=${info.serverVersion}`,
		`fp=${info.fingerprint}`,
		`auth=${info.authMethods.join(',')}`,
		`os=${info.os}`,
	];
}

/** Reads a TXT record; undefined when it is too large, lacks a key, or has a value that breaks its pattern. Unknown keys are ignored. */
export function parseTxt(strings: readonly Uint8Array[]): AnnouncedInfo | undefined {
	if (strings.reduce((total, string) => total + string.length + 1, 0) > MAX_TXT_BYTES) return undefined;
	const decoder = new TextDecoder();
	const values = new Map<TxtKey, string>();
	for (const string of strings) {
		const text = decoder.decode(string);
		const equals = text.indexOf('=');
		if (equals <= 0) continue;
		const key = text.slice(0, equals).toLowerCase();
		// RFC 6763 §6.4: only the first occurrence of a key counts.
		if (!(key in TXT_PATTERNS) || values.has(key as TxtKey)) continue;
		values.set(key as TxtKey, text.slice(equals + 1));
	}
	for (const [key, pattern] of Object.entries(TXT_PATTERNS) as [TxtKey, RegExp][]) {
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
