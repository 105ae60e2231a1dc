import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { asUser, logLines, spawnChild } from '../common/child-process.js';
import { parseReapSummary } from '../common/reap-summary.js';
import { kernelsDirectory } from '../common/runtime-layout.js';
import type { Logger } from '../common/log.js';
import { lookupAccountByUid, type Account } from './accounts.js';

/** The reaper's entry point. */
const reaperEntry = fileURLToPath(new URL('../bin/ssd-reaper.js', import.meta.url));
/** The reaper needs at most about 12 s (8 s for hosts, 2 s for kernels, then SIGKILL). */
const reapTimeoutMs = 15_000;
/** Reapers at once: after a crash every user with a kernel has leftovers. */
const parallelReapers = 8;
/** The summary is one short JSON line; anything longer is not one. */
const maxSummaryBytes = 1024;

export interface LeftoverOptions {
	readonly system: boolean;
	readonly runtimeDir: string;
	readonly logger: Logger;
}

interface Leftovers {
	readonly uid: number;
	readonly directory: string;
	/** The account to run the reaper as (system mode); personal mode runs it as the daemon's own user. */
	readonly account?: Account;
}

/**
 * Stops what an earlier daemon that was killed left running: session hosts
 * and their kernels. For each user runtime directory that holds more than
 * an empty `kernels/`, it runs the reaper (bin/ssd-reaper.ts) as that
 * user; the root daemon itself signals nothing and removes nothing in a
 * directory a user owns. Never throws: a reaper that fails is logged, and
 * the daemon starts anyway.
 */
export async function reapLeftovers(options: LeftoverOptions): Promise<void> {
	const queue = await findLeftovers(options).catch((error: Error) => {
		options.logger.warn({ err: error.message }, 'could not look for leftovers of an earlier daemon');
		return [];
	});
	const worker = async () => {
		for (let next = queue.shift(); next; next = queue.shift()) await reap(next, options.logger);
	};
	await Promise.all(Array.from({ length: Math.min(parallelReapers, queue.length) }, worker));
}

async function findLeftovers({ system, runtimeDir, logger }: LeftoverOptions): Promise<Leftovers[]> {
	if (!system) {
		const uid = process.getuid!();
		return (await isDirectoryOf(runtimeDir, uid)) && (await holdsLeftovers(runtimeDir)) ? [{ uid, directory: runtimeDir }] : [];
	}
	// Only root can make entries here (session-hosts.ts keeps both directories root's, 0711): the names can be trusted.
	const sessions = join(runtimeDir, 'sessions');
	if (!(await isDirectoryOf(runtimeDir, 0)) || !(await isDirectoryOf(sessions, 0))) return [];
	const found: Leftovers[] = [];
	for (const name of await readdir(sessions)) {
		// A uid in canonical decimal, owning its directory; anything else is not a user directory, and the next login replaces it.
		if (!/^(0|[1-9]\d{0,9})$/.test(name)) continue;
		const uid = Number(name);
		const directory = join(sessions, name);
		if (!(await isDirectoryOf(directory, uid)) || !(await holdsLeftovers(directory))) continue;
		const account = await lookupAccountByUid(uid);
		if (account) found.push({ uid, directory, account });
		else logger.warn({ uid, directory }, 'leftovers of a uid without an account: left alone');
	}
	return found;
}

/** A real directory (not a symlink) owned by `uid`. */
async function isDirectoryOf(path: string, uid: number): Promise<boolean> {
	// Nothing there (or nothing root can see) is no directory of the user's.
	const stat = await lstat(path).catch(() => undefined);
	return stat !== undefined && stat.isDirectory() && stat.uid === uid;
}

/**
 * Whether a user runtime directory holds anything but an empty `kernels/`.
 * A host removes its socket when it stops, and a kernel its directory, so
 * after a clean stop nothing else is there. The names read here (the user
 * could even make `kernels` a link elsewhere) are only counted, never used.
 */
async function holdsLeftovers(directory: string): Promise<boolean> {
	const kernels = kernelsDirectory(directory);
	const entries = (await readdir(directory).catch(() => [])).map((name) => join(directory, name));
	if (entries.some((entry) => entry !== kernels)) return true;
	return entries.length > 0 && (await readdir(kernels).catch(() => [])).length > 0;
}

async function reap({ uid, directory, account }: Leftovers, parentLogger: Logger): Promise<void> {
	const logger = parentLogger.child({ component: 'reaper', uid, ...(account ? { user: account.name } : {}) });
	const command = [process.execPath, reaperEntry, '--directory', directory];
	// No groups and no way back to privileges: the reaper only signals the user's processes and deletes in their directory.
	const [file, ...args] = account ? asUser(account, 'service', command) : command;
	let child;
	try {
		child = startReaper(file!, args);
	} catch (error) {
		logger.warn({ directory, err: (error as Error).message }, 'the leftover reaper failed');
		return;
	}
	// Its output is the user's text (it runs as the user): opaque, bounded lines, like a session host's.
	logLines(child.stderr, logger, 'reaper output');
	const result = await child;
	const summary = result.exitCode === 0 ? parseReapSummary(result.stdout) : undefined;
	if (summary) logger.info({ directory, ...summary }, 'stopped the leftovers of an earlier daemon');
	else logger.warn({ directory, exitCode: result.exitCode, signal: result.signal, timedOut: result.timedOut, output: result.stdout.slice(0, 200) }, 'the leftover reaper failed');
}

function startReaper(file: string, args: readonly string[]) {
	return spawnChild(file, args, {
		buffer: { stdout: true, stderr: false },
		maxBuffer: { stdout: maxSummaryBytes },
		reject: false,
		timeout: reapTimeoutMs,
		cwd: '/',
		extendEnv: false,
		env: {},
	});
}
