/**
 * The leftover reaper. The daemon runs it at start, before any session host,
 * as the user and for that user's runtime directory, when an earlier daemon
 * left something there: it was killed (SIGKILL, OOM) and so were its session
 * hosts, whose kernels then run on with nobody to stop them. The reaper stops
 * what is left and removes its sockets and directories. It never re-adopts a
 * kernel: a new host cannot supervise a process it did not start, and no
 * client is attached any more (spec 6.12.4). It prints one JSON summary line
 * (ReapSummary).
 *
 * Everything read from /proc is the user's text: a process can have any
 * command line. Only processes whose real, effective and saved uid are this
 * uid are ever signalled, and as the reaper runs as the user, the kernel
 * would refuse any other anyway.
 */
import { lstat, open, readdir, readFile, rm, unlink } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { ReapSummary } from '../common/reap-summary.js';
import { connectionFileIn, HOST_SOCKET_NAME, kernelsDirectory } from '../common/runtime-layout.js';
import { runsKernelOn } from './kernels/launcher.js';
import { killProcessGroup } from './process-group.js';

/** The session host's entry point, beside this one in the build: what a leftover host runs. */
const hostEntry = fileURLToPath(new URL('./main.js', import.meta.url));
/** A host stops its kernels on SIGTERM: shutdown_request, SIGTERM and SIGKILL at 2 s each. */
const hostGraceMs = 8_000;
/** As long as a kernel gets between SIGTERM and SIGKILL in a normal shutdown. */
const kernelGraceMs = 2_000;
/** SIGKILL is not instant either: the summary should say what is really gone. */
const killWaitMs = 1_000;
/** Longer than any command line the server starts (a host's settings JSON included). */
const maxCommandLineBytes = 256 * 1024;

const { values } = parseArgs({ options: { directory: { type: 'string' } } });
if (!values.directory?.startsWith('/')) {
	process.stderr.write('usage: reap --directory ABSOLUTE_PATH (started by ssd-server, not by hand)\n');
	process.exit(2);
}
const directory = resolve(values.directory);
const uid = process.getuid!();
const own = await lstat(directory);
if (!own.isDirectory() || own.uid !== uid) throw new Error(`${directory} is not a directory of uid ${uid}`);

interface OwnProcess {
	readonly pid: number;
	/** Clock ticks after boot (/proc stat field 22): with the pid, names one process even if the pid is reused. */
	readonly startTime: string;
	readonly pgid: number;
	readonly args: readonly string[];
}

/** What can be stopped: one session host, or one kernel's process group. */
interface Target {
	signal(signal: NodeJS.Signals): void;
	alive(processes: readonly OwnProcess[]): boolean;
}

// Session hosts first: on SIGTERM a host stops its own kernels, the gentle way (shutdown_request first).
const hosts: Target[] = (await ownProcesses()).filter(isLeftoverHost).map(({ pid, startTime }) => ({
	signal(signal) {
		try {
			process.kill(pid, signal);
		} catch {
			// Already gone.
		}
	},
	alive: (processes) => processes.some((entry) => entry.pid === pid && entry.startTime === startTime),
}));
await stop(hosts, hostGraceMs);

// Then every kernel still running on a connection file here: its host was killed, or did not manage in time.
const kernels = kernelsDirectory(directory);
const kernelDirectories = (await lstat(kernels).catch(() => undefined))?.isDirectory() ? await readdir(kernels) : [];
const connectionFiles = kernelDirectories.map((id) => connectionFileIn(join(kernels, id)));
const running = await ownProcesses();
const groups = new Set(running.filter(({ args }) => connectionFiles.some((file) => runsKernelOn(args, file))).map(({ pgid }) => pgid));
// A kernel leads a group of its own (started detached). Never 1 or 0: kill(-1) reaches every process it may, kill(-0) its own group.
const kernelGroups: Target[] = [...groups]
	.filter((pgid) => pgid > 1)
	.map((pgid) => ({ signal: (signal) => killProcessGroup(pgid, signal), alive: (processes) => processes.some((entry) => entry.pgid === pgid) }));
await stop(kernelGroups, kernelGraceMs);

await rm(kernels, { recursive: true, force: true });
let sockets = 0;
for (const name of await readdir(directory)) {
	if (!HOST_SOCKET_NAME.test(name) || !(await lstat(join(directory, name))).isSocket()) continue;
	await unlink(join(directory, name));
	sockets += 1;
}

const summary: ReapSummary = { hosts: hosts.length, kernels: kernelGroups.length, directories: kernelDirectories.length, sockets };
process.stdout.write(`${JSON.stringify(summary)}\n`);

/** A session host started by a daemon for this directory: `node <hostEntry> --socket <directory>/host-….sock …`. */
function isLeftoverHost({ args }: OwnProcess): boolean {
	const [, entry, flag, socket] = args;
	return entry === hostEntry && flag === '--socket' && socket !== undefined && dirname(socket) === directory && HOST_SOCKET_NAME.test(basename(socket));
}

/** SIGTERM, up to `graceMs` for the targets to go, then SIGKILL to the rest. */
async function stop(targets: readonly Target[], graceMs: number): Promise<void> {
	if (targets.length === 0) return;
	for (const target of targets) target.signal('SIGTERM');
	const left = await survivors(targets, graceMs);
	for (const target of left) target.signal('SIGKILL');
	await survivors(left, killWaitMs);
}

async function survivors(targets: readonly Target[], timeoutMs: number): Promise<Target[]> {
	for (const deadline = Date.now() + timeoutMs; ; await sleep(100)) {
		const processes = await ownProcesses();
		const left = targets.filter((target) => target.alive(processes));
		if (left.length === 0 || Date.now() >= deadline) return left;
	}
}

/** This uid's processes that have not exited. A zombie has: only its parent can clear it, and no signal reaches it. */
async function ownProcesses(): Promise<OwnProcess[]> {
	const found: OwnProcess[] = [];
	for (const name of await readdir('/proc')) {
		if (!/^[1-9]\d{0,9}$/.test(name) || Number(name) === process.pid) continue;
		// A process may exit while it is read: then it is simply not there.
		const entry = await readProcess(Number(name)).catch(() => undefined);
		if (entry) found.push(entry);
	}
	return found;
}

async function readProcess(pid: number): Promise<OwnProcess | undefined> {
	const status = await readFile(`/proc/${pid}/status`, 'latin1');
	const ids = /^Uid:\t(\d+)\t(\d+)\t(\d+)\t\d+$/m.exec(status);
	if (!ids || ids.slice(1).some((id) => Number(id) !== uid)) return undefined;
	const stat = await readFile(`/proc/${pid}/stat`, 'latin1');
	// The command name, in parentheses, is the process's own text and may hold ") ": the fields start after the last one.
	const fields = stat.slice(stat.lastIndexOf(') ') + 2).split(' ');
	const [state, , pgid] = fields;
	const startTime = fields[19];
	if (state === undefined || 'ZX'.includes(state) || !/^\d{1,10}$/.test(pgid ?? '') || !/^\d{1,20}$/.test(startTime ?? '')) return undefined;
	const commandLine = await readBounded(`/proc/${pid}/cmdline`, maxCommandLineBytes);
	if (!commandLine) return undefined;
	const args = commandLine.toString('utf8').split('\0');
	if (args.at(-1) === '') args.pop();
	return { pid, startTime: startTime!, pgid: Number(pgid), args };
}

/** A file's content, or undefined when it is longer than `maxBytes`: /proc files can be read only in pieces, so in a loop. */
async function readBounded(path: string, maxBytes: number): Promise<Buffer | undefined> {
	const handle = await open(path, 'r');
	try {
		const buffer = Buffer.alloc(maxBytes + 1);
		let length = 0;
		while (length <= maxBytes) {
			const { bytesRead } = await handle.read(buffer, length, buffer.length - length, null);
			if (bytesRead === 0) break;
			length += bytesRead;
		}
		return length > maxBytes ? undefined : buffer.subarray(0, length);
	} finally {
		await handle.close();
	}
}
