import type { ResultPromise } from 'execa';
import { ownProcess } from '../own-processes.js';

/** How often an adopted kernel is looked for in /proc: it is not this host's child, so no exit event comes. */
const adoptedPollMs = 500;

export interface KernelExit {
	readonly exitCode?: number;
	readonly signal?: string;
}

/** A kernel's process, started by this host or adopted from an earlier one. */
export interface KernelProcess {
	readonly pid: number | undefined;
	/** Whether it has not been seen to exit. */
	readonly running: boolean;
	/** Settles once it has exited; with its status only for a child of this host. */
	readonly exited: Promise<KernelExit>;
}

export function spawnedProcess(child: ResultPromise): KernelProcess {
	const exited = child.then(({ exitCode, signal }) => ({ ...(exitCode !== undefined ? { exitCode } : {}), ...(signal ? { signal } : {}) }));
	return {
		pid: child.pid,
		get running() {
			return child.exitCode === null && child.signalCode === null;
		},
		exited,
	};
}

/** A kernel an earlier host started: it has exited once /proc no longer shows that pid with that start time, or shows a zombie. */
export function adoptedProcess(pid: number, startTime: string): KernelProcess {
	let running = true;
	const exited = new Promise<KernelExit>((resolve) => {
		const timer = setInterval(() => {
			// Unreadable in /proc means gone: that is the exit being watched for.
			void ownProcess(pid)
				.catch(() => undefined)
				.then((entry) => {
					if (!running || entry?.startTime === startTime) return;
					running = false;
					clearInterval(timer);
					resolve({});
				});
		}, adoptedPollMs);
		timer.unref();
	});
	return {
		pid,
		get running() {
			return running;
		},
		exited,
	};
}
