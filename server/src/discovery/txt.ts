import type { Announcement } from './announcement.js';

/**
 * The TXT record's strings (RFC 6763 §6): `txtvers` first, then short keys.
 * spec/README.md §6.14 defines each key; clients ignore keys they do not know.
 */
export function txtStrings(announcement: Announcement): Buffer[] {
	return [
		'txtvers=1',
		`protovers=${announcement.protocolVersion}`,
		`srvvers=${announcement.serverVersion}`,
		`fp=${announcement.fingerprint}`,
		`auth=${announcement.authMethods.join(',')}`,
		`os=${announcement.os}`,
	].map((text) => Buffer.from(text, 'utf8'));
}
