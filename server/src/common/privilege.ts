/**
 * Whether this process acts as root: what makes `mode: 'auto'` the system
 * mode, and what the tests that create OS users need.
 */
export function runsAsRoot(): boolean {
	return process.geteuid?.() === 0;
}
