/** DNS-SD names of the spyder-remote service and the limits DNS puts on them. */
import { SERVICE_TYPE } from '@spyder-remote/protocol';

export { SERVICE_TYPE };
/** RFC 6763 §9: browsers list service types by asking for PTRs here. */
export const SERVICE_TYPE_ENUMERATION = '_services._dns-sd._udp.local';

/** A DNS label holds at most 63 bytes. */
const MAX_LABEL_BYTES = 63;

export interface ServiceNames {
	/** The instance label users see, e.g. `labserver` or `labserver (2)`. */
	readonly instance: string;
	/** The label of the host name the SRV record points to, without `.local`. */
	readonly host: string;
}

export const instanceFqdn = (names: ServiceNames) => `${names.instance}.${SERVICE_TYPE}`;
export const hostFqdn = (names: ServiceNames) => `${names.host}.local`;

/** DNS names compare case-insensitively (ASCII only, RFC 4343). */
export const sameName = (a: string, b: string) => a.length === b.length && a.toLowerCase() === b.toLowerCase();

function truncateToBytes(text: string, maxBytes: number): string {
	let result = '';
	for (const character of text) {
		if (Buffer.byteLength(result + character) > maxBytes) break;
		result += character;
	}
	return result;
}

/**
 * An instance label that dns-packet can encode: it has no escape syntax, so
 * a dot would split the label; control characters would reach terminals.
 */
export function instanceLabel(name: string): string {
	const cleaned = name.replace(/[.\p{Cc}]/gu, '-').trim();
	return truncateToBytes(cleaned, MAX_LABEL_BYTES) || 'spyder-remote';
}

/** RFC 6763 §9 style renaming after a conflict: `name`, `name (2)`, `name (3)`, … */
export function nextInstanceName(current: string): string {
	const match = /^(.*) \((\d+)\)$/.exec(current);
	const base = match ? match[1]! : current;
	const suffix = ` (${match ? Number(match[2]) + 1 : 2})`;
	return truncateToBytes(base, MAX_LABEL_BYTES - suffix.length) + suffix;
}

/**
 * The SRV target's label: the machine's name plus the port. It is a name of
 * our own rather than the machine's `<hostname>.local`, which a system
 * responder such as avahi already owns with a different address set; sharing
 * it would make the two responders fight over it.
 */
export function hostLabel(machineName: string, port: number): string {
	const first = machineName
		.split('.')[0]!
		.toLowerCase()
		.replace(/[^a-z0-9-]+/g, '-')
		.replace(/^-+|-+$/g, '');
	return `${first.slice(0, 40) || 'host'}-ssd-${port}`;
}

/** RFC 6762 §9 host renaming after a conflict: `label`, `label-2`, `label-3`, … */
export function nextHostLabel(current: string): string {
	const match = /^(.*-ssd-\d+)-(\d+)$/.exec(current);
	return match ? `${match[1]}-${Number(match[2]) + 1}` : `${current}-2`;
}
