/**
 * The user's own processes, read from /proc: what the reaper and a session
 * host taking over from an earlier one need to recognise hosts and kernels.
 *
 * Everything read from /proc is the user's text: a process can have any
 * command line. Only processes whose real, effective and saved uid are this
 * process's uid are returned, so only those are ever signalled.
 */
import type { FileHandle } from 'node:fs/promises';
import { open, readdir, readFile } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { HOST_SOCKET_NAME } from '../common/runtime-layout.js';
import { runsKernelOn } from '../common/kernel-launcher.js';
import { killProcessGroup } from '../common/process-group.js';

/** The session host's entry point, beside this module in the build: what a host runs. */
const hostEntry = fileURLToPath(new URL('../bin/ssd-session-host.js', import.meta.url));
/** Longer than any command line the server starts (a host's settings JSON included). */
const maxCommandLineBytes = 256 * 1024;
/** SIGKILL is not instant either: callers should know what is really gone. */
const killWaitMs = 1_000;

export interface OwnProcess {
	readonly pid: number;
	/** Clock ticks after boot (/proc stat field 22): with the pid, names one process even if the pid is reused. */
	readonly startTime: string;
	readonly pgid: number;
	readonly args: readonly string[];
}

/** This uid's processes that have not exited, but this one. A zombie has: only its parent can clear it, and no signal reaches it. */
export async function ownProcesses(): Promise<OwnProcess[]> {
	const found: OwnProcess[] = [];
	for (const name of await readdir('/proc')) {
		if (!/^[1-9]\d{0,9}$/.test(name) || Number(name) === process.pid) continue;
		// A process may exit while it is read: then it is simply not there.
		const entry = await ownProcess(Number(name)).catch(() => undefined);
		if (entry) found.push(entry);
	}
	return found;
}

/** One process, if it is this uid's and has not exited; rejects when it does not exist. */
export async function ownProcess(pid: number): Promise<OwnProcess | undefined> {
	const uid = process.getuid!();
	const status = await readFile(`/proc/${pid}/status`, 'latin1');
	const ids = /^Uid:\t(\d+)\t(\d+)\t(\d+)\t\d+$/m.exec(status);
	if (!ids || ids.slice(1).some((id) => Number(id) !== uid)) return undefined;
	const stat = await readFile(`/proc/${pid}/stat`, 'latin1');
	// The command name, in parentheses, is the process's own text and may hold ") ": the fields start after the last one.
	const fields = stat.slice(stat.lastIndexOf(') ') + 2).split(' ');
	const [state, , pgid] = fields;
	const startTime = fields[19];
	if (state === undefined || 'ZX'.includes(state) || !/^\d{1,10}$/.test(pgid ?? '') || !/^\d{1,20}$/.test(startTime ?? '')) return undefined;
	const handle = await open(`/proc/${pid}/cmdline`, 'r');
	const commandLine = await readBounded(handle, maxCommandLineBytes).finally(() => handle.close());
	if (!commandLine) return undefined;
	const args = commandLine.toString('utf8').split('\0');
	if (args.at(-1) === '') args.pop();
	return { pid, startTime: startTime!, pgid: Number(pgid), args };
}

/** What can be stopped: one session host, or one kernel's process group. */
export interface Target {
	signal(signal: NodeJS.Signals): void;
	alive(processes: readonly OwnProcess[]): boolean;
}

/** The session hosts started by a daemon for this user directory: `node <hostEntry> --socket <directory>/host-….sock …`. */
export function hostsFor(directory: string, processes: readonly OwnProcess[]): Target[] {
	return processes
		.filter(({ args }) => {
			const [, entry, flag, socket] = args;
			return entry === hostEntry && flag === '--socket' && socket !== undefined && dirname(socket) === directory && HOST_SOCKET_NAME.test(basename(socket));
		})
		.map(({ pid, startTime }) => ({
			signal(signal) {
				try {
					process.kill(pid, signal);
				} catch {
					// Already gone.
				}
			},
			alive: (running) => running.some((entry) => entry.pid === pid && entry.startTime === startTime),
		}));
}

/** The process groups of the kernels running on these connection files (kernels/launcher.ts). */
export function kernelGroupsOn(connectionFiles: readonly string[], processes: readonly OwnProcess[]): Target[] {
	const groups = new Set(processes.filter(({ args }) => connectionFiles.some((file) => runsKernelOn(args, file))).map(({ pgid }) => pgid));
	// A kernel leads a group of its own (started detached). Never 1 or 0: kill(-1) reaches every process it may, kill(-0) its own group.
	return [...groups]
		.filter((pgid) => pgid > 1)
		.map((pgid) => ({ signal: (signal) => killProcessGroup(pgid, signal), alive: (running) => running.some((entry) => entry.pgid === pgid) }));
}

/** SIGTERM, up to `graceMs` for the targets to go, then SIGKILL to the rest. */
export async function stopTargets(targets: readonly Target[], graceMs: number): Promise<void> {
	if (targets.length === 0) return;
	for (const target of targets) target.signal('SIGTERM');
	await killTargets(await survivors(targets, graceMs));
}

/** SIGKILL at once, and a wait for the targets to be gone. */
export async function killTargets(targets: readonly Target[]): Promise<void> {
	if (targets.length === 0) return;
	for (const target of targets) target.signal('SIGKILL');
	await survivors(targets, killWaitMs);
}

async function survivors(targets: readonly Target[], timeoutMs: number): Promise<Target[]> {
	for (const deadline = Date.now() + timeoutMs; ; await sleep(100)) {
		const processes = await ownProcesses();
		const left = targets.filter((target) => target.alive(processes));
		if (left.length === 0 || Date.now() >= deadline) return left;
	}
}

/** A file's content, or undefined when it is longer than `maxBytes`: /proc files can be read only in pieces, so in a loop. */
async function readBounded(handle: FileHandle, maxBytes: number): Promise<Buffer | undefined> {
	const buffer = Buffer.alloc(maxBytes + 1);
	let length = 0;
	while (length <= maxBytes) {
		const { bytesRead } = await handle.read(buffer, length, buffer.length - length, null);
		if (bytesRead === 0) break;
		length += bytesRead;
	}
	return length > maxBytes ? undefined : buffer.subarray(0, length);
}
