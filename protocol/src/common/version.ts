/**
 * The protocol version this package describes. Peers are compatible when the
 * major versions are equal; while the major version is 0 the minor version
 * must match too (semver's rule for pre-1.0 APIs).
 */
export const PROTOCOL_VERSION = '0.1.0';

export function parseVersion(version: string): [number, number, number] | undefined {
	const match = /^(\d{1,6})\.(\d{1,6})\.(\d{1,6})$/.exec(version);
	return match ? [Number(match[1]), Number(match[2]), Number(match[3])] : undefined;
}

export function isCompatibleVersion(ours: string, theirs: string): boolean {
	const a = parseVersion(ours);
	const b = parseVersion(theirs);
	if (!a || !b || a[0] !== b[0]) return false;
	return a[0] !== 0 || a[1] === b[1];
}
