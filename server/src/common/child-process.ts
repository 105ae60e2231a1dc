import { ChildProcess } from 'node:child_process';
import type { Readable } from 'node:stream';
import { getSystemErrorName } from 'node:util';
import { execa, type Options, type ResultPromise } from 'execa';
import type { Logger } from './log.js';
import { boundLine, keepTail } from './output-tail.js';

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

export class SpawnError extends Error {
	override name = 'SpawnError';
}

/** The errno of the last spawn that Node gave up on before it had a child, taken synchronously by spawnChild. */
let earlySpawnFailure: number | undefined;
let guardInstalled = false;

/**
 * When spawn fails for want of descriptors (EMFILE, ENFILE), Node returns
 * before the child has stdio and emits 'error' on the next tick. execa 9
 * then throws "subprocess.stdio is not iterable" without ever returning
 * that child, so nobody listens for its 'error' and the process dies. This
 * hook listens on exactly those children, so the failure is one spawn's.
 */
function guardEarlySpawnFailures(): void {
	if (guardInstalled) return;
	guardInstalled = true;
	// Internal to Node (child_process.spawn calls it), hence untyped.
	const prototype = ChildProcess.prototype as unknown as { spawn(this: ChildProcess, options: unknown): unknown };
	const spawn = prototype.spawn;
	prototype.spawn = function (options) {
		const status = spawn.call(this, options);
		if (typeof status === 'number' && status < 0 && this.stdio == null) {
			earlySpawnFailure = status;
			this.once('error', () => undefined);
		}
		return status;
	};
}

/**
 * execa, except that a spawn that fails outright (no descriptors left)
 * throws a SpawnError for this one caller instead of ending the process.
 */
export function spawnChild<OptionsType extends Options>(file: string, args: readonly string[], options: OptionsType) {
	guardEarlySpawnFailures();
	earlySpawnFailure = undefined;
	try {
		return execa(file, args, options);
	} catch (error) {
		const reason = earlySpawnFailure === undefined ? (error as Error).message : getSystemErrorName(earlySpawnFailure);
		throw new SpawnError(`cannot start ${file}: ${reason}`, { cause: error });
	} finally {
		earlySpawnFailure = undefined;
	}
}

/** Logs each line of a child's output without interpreting it; returns the last lines, kept for error messages. */
export function logLines(stream: Readable, logger: Logger, message: string): readonly string[] {
	return keepTail(stream, (line) => logger.info({ line: boundLine(line) }, message));
}

/** `signal` (SIGTERM), then SIGKILL after `graceMs`; resolves when the child has exited. */
export async function stopChild(child: ResultPromise, graceMs: number, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
	if (child.exitCode !== null || child.signalCode !== null) return;
	child.kill(signal);
	const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
	await child;
	clearTimeout(timer);
}
