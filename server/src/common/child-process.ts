import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import type { ResultPromise } from 'execa';
import type { Logger } from '../log.js';

/** A child's output lines are its own text: kept as opaque log lines of at most this many characters. */
const MAX_LINE_CHARS = 2000;

export interface Identity {
	readonly uid: number;
	readonly gid: number;
}

/**
 * The command that runs `command` under setpriv as `identity`, with a clean
 * environment and no way to gain privileges back. `groups`: the account's
 * supplementary groups (`init`) or none at all (`clear`).
 */
export function asUser(identity: Identity, groups: 'init' | 'clear', command: readonly string[]): string[] {
	return ['setpriv', `--reuid=${identity.uid}`, `--regid=${identity.gid}`, groups === 'init' ? '--init-groups' : '--clear-groups', '--reset-env', '--no-new-privs', '--', ...command];
}

/** Logs each line of a child's output without interpreting it. */
export function logLines(stream: Readable, logger: Logger, message: string): void {
	createInterface({ input: stream }).on('line', (line) => logger.info({ line: line.slice(0, MAX_LINE_CHARS) }, message));
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves when the child has exited. */
export async function stopChild(child: ResultPromise, graceMs: number): Promise<void> {
	if (child.exitCode !== null || child.signalCode !== null) return;
	child.kill('SIGTERM');
	const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
	await child;
	clearTimeout(timer);
}
