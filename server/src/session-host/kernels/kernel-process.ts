import type { ResultPromise } from 'execa';
import { killProcessGroup } from '../../common/process-group.js';
import { ownProcess } from '../own-processes.js';

/** How often an adopted kernel is looked for in /proc: it is not this host's child, so no exit event comes. */
const adoptedPollMs = 500;

export interface KernelExit {
	readonly exitCode?: number;
	readonly signal?: string;
	/** Why a kernel on a cluster ended, from its scheduler (Slurm's job state and reason). */
	readonly reason?: string;
}

/** A kernel's process, started by this host or adopted from an earlier one. */
export interface KernelProcess {
	readonly pid: number | undefined;
	/** Whether it has not been seen to exit. */
	readonly running: boolean;
	/** Settles once it has exited; with its status only for a child of this host. */
	readonly exited: Promise<KernelExit>;
	/** For a kernel that is not a local process (a Slurm kernel): how to signal it; a local one is signalled by pid. */
	readonly signal?: (signal: 'SIGINT' | 'SIGTERM' | 'SIGKILL') => void;
}

/** SIGINT to the kernel alone (interrupt_mode signal); SIGTERM and SIGKILL to its whole group. */
export function signalKernel(kernelProcess: KernelProcess | undefined, signal: 'SIGINT' | 'SIGTERM' | 'SIGKILL'): void {
	if (kernelProcess?.signal) return kernelProcess.signal(signal);
	if (kernelProcess?.pid === undefined) return;
	if (signal === 'SIGINT') process.kill(kernelProcess.pid, signal);
	else killProcessGroup(kernelProcess.pid, signal);
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
