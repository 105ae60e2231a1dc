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
 * environment. A login user (`init`) gets their supplementary groups and may
 * still use sudo or ping from a console, as over ssh; a service account
 * (`clear`) gets no groups and no way to gain privileges back.
 */
export function asUser(identity: Identity, kind: 'login' | 'service', command: readonly string[]): string[] {
	const groups = kind === 'login' ? ['--init-groups'] : ['--clear-groups', '--no-new-privs'];
	return ['setpriv', `--reuid=${identity.uid}`, `--regid=${identity.gid}`, ...groups, '--reset-env', '--', ...command];
}

/** Logs each line of a child's output without interpreting it; returns the last lines, kept for error messages. */
export function logLines(stream: Readable, logger: Logger, message: string, keep = 20): readonly string[] {
	const tail: string[] = [];
	createInterface({ input: stream }).on('line', (line) => {
		const bounded = line.slice(0, MAX_LINE_CHARS);
		tail.push(bounded);
		if (tail.length > keep) tail.shift();
		logger.info({ line: bounded }, message);
	});
	return tail;
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves when the child has exited. */
export async function stopChild(child: ResultPromise, graceMs: number): Promise<void> {
	if (child.exitCode !== null || child.signalCode !== null) return;
	child.kill('SIGTERM');
	const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
	await child;
	clearTimeout(timer);
}
