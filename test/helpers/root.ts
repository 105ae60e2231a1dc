/**
 * Fails a test file's `before` hook, with the reason, when the suite does not run as root. The tests create OS users,
 * network namespaces and PAM services for real, and CI runs as root, so no test is ever skipped for lack of it.
 */
export function requireRoot(reason: string): void {
	if (process.getuid?.() !== 0) throw new Error(`${reason}; run the suite as root`);
}
