import { execa } from 'execa';
import { keepTail } from '../common/output-tail.js';
import { killProcessGroup } from '../common/process-group.js';

export interface ToolRun {
	readonly exitCode: number | undefined;
	readonly signal: string | undefined;
	readonly cancelled: boolean;
	/** The last lines of combined output, for error messages. */
	readonly tail: readonly string[];
}

export interface ToolOptions {
	/** Each line of stdout and stderr, as it comes. */
	readonly onLine?: (line: string) => void;
	/** Aborting kills the tool's whole process group (pip's build backends, conda's solvers). */
	readonly signal?: AbortSignal;
	readonly cwd?: string;
	readonly env?: Record<string, string>;
	readonly killGraceMs?: number;
}

/**
 * Runs pip, conda, venv and the like: never through a shell, in a process
 * group of its own so cancelling reaches every descendant, with output
 * streamed line by line and a bounded tail kept for errors.
 */
export async function runTool(file: string, args: readonly string[], options: ToolOptions = {}): Promise<ToolRun> {
	const child = execa(file, args, {
		stdin: 'ignore',
		all: true,
		buffer: false,
		reject: false,
		detached: true,
		cwd: options.cwd,
		env: { PYTHONUNBUFFERED: '1', PIP_NO_INPUT: '1', PIP_DISABLE_PIP_VERSION_CHECK: '1', ...options.env },
	});
	const tail = keepTail(child.all!, options.onLine);
	let cancelled = false;
	const cancel = () => {
		cancelled = true;
		killProcessGroup(child.pid, 'SIGTERM');
		setTimeout(() => killProcessGroup(child.pid, 'SIGKILL'), options.killGraceMs ?? 3000).unref();
	};
	if (options.signal?.aborted) cancel();
	else options.signal?.addEventListener('abort', cancel, { once: true });
	const result = await child;
	options.signal?.removeEventListener('abort', cancel);
	if (cancelled) killProcessGroup(child.pid, 'SIGKILL');
	return { exitCode: result.exitCode, signal: result.signal, cancelled, tail };
}
