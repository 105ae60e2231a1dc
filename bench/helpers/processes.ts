import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const helpers = fileURLToPath(new URL('.', import.meta.url));

// ------------------------------------------------------------- children

/** Every child process the bench starts, so a last-resort exit handler can kill what is left. */
export const children = new Set<ChildProcess>();

export function track(child: ChildProcess, group = false): ChildProcess {
	children.add(child);
	(child as ChildProcess & { group?: boolean }).group = group;
	child.once('exit', () => children.delete(child));
	return child;
}

export function killNow(child: ChildProcess, signal: NodeJS.Signals = 'SIGKILL'): void {
	if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
	try {
		process.kill((child as ChildProcess & { group?: boolean }).group ? -child.pid : child.pid, signal);
	} catch {
		// Already gone.
	}
}

export async function stopChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM', graceMs = 10_000): Promise<void> {
	if (child.exitCode !== null || child.signalCode !== null) return;
	const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
	child.stdin?.end();
	killNow(child, signal);
	const timer = setTimeout(() => killNow(child, 'SIGKILL'), graceMs);
	await exited;
	clearTimeout(timer);
}

/**
 * A script of bench/helpers/ under this node, talking JSON lines on stdin/stdout; its stderr is passed through.
 * `launcher` is a command that execs the rest of its arguments (e.g. prlimit), so the child is still the script.
 */
export function spawnScript(script: string, args: string[] = [], launcher: string[] = []): ChildProcess {
	const command = [...launcher, process.execPath, join(helpers, script), ...args];
	return track(spawn(command[0]!, command.slice(1), { stdio: ['pipe', 'pipe', 'inherit'] }));
}

/** Resolves with the first stdout line (JSON) of a helper, which it prints once it is ready. */
export async function spawnHelper(script: string, args: string[], launcher: string[] = []): Promise<{ child: ChildProcess; info: Record<string, unknown> }> {
	const child = spawnScript(script, args, launcher);
	const info = await new Promise<Record<string, unknown>>((resolve, reject) => {
		const timer = setTimeout(() => reject(new Error(`${script} did not start within 20 s`)), 20_000);
		createInterface({ input: child.stdout! }).once('line', (line) => {
			clearTimeout(timer);
			resolve(JSON.parse(line) as Record<string, unknown>);
		});
		child.once('exit', (code, signal) => {
			clearTimeout(timer);
			reject(new Error(`${script} exited (${signal ?? code}) before it was ready`));
		});
	});
	return { child, info };
}

// ------------------------------------------------------------------ CPU

/** Linux clock ticks per second (USER_HZ); 100 on every mainstream kernel. */
const CLOCK_TICKS = 100;

export function childPids(pid: number): number[] {
	const found: number[] = [];
	try {
		for (const task of readdirSync(`/proc/${pid}/task`)) {
			found.push(...readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').split(' ').filter(Boolean).map(Number));
		}
	} catch {
		// Gone, or not Linux: CPU figures are best effort.
	}
	return found;
}

/** The first child of `pid` whose command line contains `text` (e.g. a daemon's session host). */
export function childRunning(pid: number, text: string): number | undefined {
	return childPids(pid).find((child) => {
		try {
			return readFileSync(`/proc/${child}/cmdline`, 'utf8').includes(text);
		} catch {
			return false;
		}
	});
}

export function descendants(pid: number): number[] {
	return childPids(pid).flatMap((child) => [child, ...descendants(child)]);
}

/** CPU time (ms) a process has used so far; 0 once it is gone. */
export function cpuMs(pid: number | undefined): number {
	if (pid === undefined) return 0;
	try {
		// Fields after the parenthesised command name; utime and stime are the 12th and 13th of them.
		const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
		return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
	} catch {
		return 0;
	}
}
