import { lstat, readdir, unlink, writeFile } from 'node:fs/promises';
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
	/**
	 * After a restart, whether this user's kernels may be kept: the login
	 * policy as it is now (a restart may be what applied a denyUsers).
	 * Refused users' leftovers are reaped as after a crash.
	 */
	readonly mayKeep?: (account: Account) => Promise<boolean>;
}

interface Leftovers {
	readonly uid: number;
	readonly directory: string;
	/** The account to run the reaper as (system mode); personal mode runs it as the daemon's own user. */
	readonly account?: Account;
}

/**
 * Left in the runtime directory (root's) by a daemon that stopped in order
 * to restart and told its session hosts to leave their kernels running.
 */
const HANDED_OVER_MARK = 'handed-over';

/**
 * Whether the runtime directory is the daemon's alone: a real directory of its uid that no group or other may write.
 * The hand-over mark is written and read by name in it, which is safe only there: in a directory a user could write,
 * a planted name (a hard link to one of root's files, say) would forge a hand-over and keep kernels that must be reaped.
 */
async function isOwnPrivateDirectory(path: string): Promise<boolean> {
	const stat = await lstat(path);
	return stat.isDirectory() && stat.uid === process.getuid!() && (stat.mode & 0o022) === 0;
}

/**
 * Says, for the next daemon, that the kernels still running were handed over, not abandoned. Returns false, leaving no
 * mark, when there is no runtime directory (no host ever ran, so nothing to hand over) or it is not the daemon's alone.
 */
export async function markHandedOver(runtimeDir: string, logger: Logger): Promise<boolean> {
	const own = await isOwnPrivateDirectory(runtimeDir).catch((error: NodeJS.ErrnoException) => {
		if (error.code !== 'ENOENT') throw error;
		return undefined;
	});
	if (own === undefined) return false;
	if (!own) {
		logger.warn({ runtimeDir }, "the runtime directory is not the daemon's alone: no hand-over mark, so the kernels left are stopped");
		return false;
	}
	// 'wx': a name that appeared in between is neither followed nor overwritten.
	await writeFile(join(runtimeDir, HANDED_OVER_MARK), '', { flag: 'wx', mode: 0o600 }).catch((error: NodeJS.ErrnoException) => {
		if (error.code !== 'EEXIST') throw error;
	});
	return true;
}

/** Whether the earlier daemon handed over; the mark is removed, so that it counts once. Only root's (the daemon user's) own file, in its own directory, counts. */
async function takeHandedOverMark(runtimeDir: string): Promise<boolean> {
	if (!(await isOwnPrivateDirectory(runtimeDir).catch(() => false))) return false;
	const path = join(runtimeDir, HANDED_OVER_MARK);
	const stat = await lstat(path).catch(() => undefined);
	if (!stat) return false;
	await unlink(path);
	return stat.isFile() && stat.uid === process.getuid!();
}

/**
 * Deals with what an earlier daemon, or at a stop this daemon's killed hosts, left running: session hosts and their
 * kernels. After a restart (the earlier daemon marked it, markHandedOver)
 * the kernels are kept: the accounts that have some are returned, and the
 * daemon starts their session hosts, which adopt them. Otherwise the
 * earlier daemon was killed, and for each user runtime directory that
 * holds more than an empty `kernels/`, the reaper (bin/ssd-reaper.ts) runs
 * as that user and stops everything; the root daemon itself signals
 * nothing and removes nothing in a directory a user owns. Never throws: a
 * reaper that fails is logged, and the daemon starts anyway.
 */
export async function reapLeftovers(options: LeftoverOptions): Promise<readonly Account[]> {
	const queue = await findLeftovers(options).catch((error: Error) => {
		options.logger.warn({ err: error.message }, 'could not look for leftovers of an earlier daemon');
		return [];
	});
	const handedOver = await takeHandedOverMark(options.runtimeDir).catch((error: Error) => {
		options.logger.warn({ err: error.message }, 'could not read the hand-over mark of the earlier daemon: its leftovers are stopped');
		return false;
	});
	const kept: Account[] = [];
	if (handedOver) {
		for (const leftovers of queue) if (leftovers.account && (await (options.mayKeep?.(leftovers.account) ?? true))) kept.push(leftovers.account);
		const refused = queue.filter((leftovers) => !kept.includes(leftovers.account!)).map((leftovers) => leftovers.account?.name ?? leftovers.uid);
		options.logger.info(
			{ users: kept.map((account) => account.name), refused },
			"the earlier daemon restarted: kernels kept for their users' session hosts to adopt (those of users the login policy now refuses are stopped)",
		);
	}
	const toReap = queue.filter((leftovers) => !leftovers.account || !kept.includes(leftovers.account));
	const worker = async () => {
		for (let next = toReap.shift(); next; next = toReap.shift()) await reap(next, options.logger);
	};
	await Promise.all(Array.from({ length: Math.min(parallelReapers, toReap.length) }, worker));
	return kept;
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
	if (summary) logger.info({ directory, ...summary }, 'stopped leftover session hosts and kernels');
	else
		logger.warn(
			{ directory, exitCode: result.exitCode, signal: result.signal, timedOut: result.timedOut, output: result.stdout.slice(0, 200) },
			'the leftover reaper failed',
		);
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
