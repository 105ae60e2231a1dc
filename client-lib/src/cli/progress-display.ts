import type { OperationOptions } from '../session.js';

const frames = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

/**
 * Shows `$/progress` on stderr: a spinner with the latest output line on a
 * terminal, plain lines otherwise (logs, CI). Ctrl-C cancels the operation
 * on the server instead of abandoning it.
 */
export function progressDisplay(): OperationOptions & { stop(): void } {
	const terminal = process.stderr.isTTY === true;
	const controller = new AbortController();
	let frame = 0;
	let title = '';
	let last = '';
	const draw = () => {
		const width = (process.stderr.columns ?? 80) - 4;
		process.stderr.write(`\r\x1b[2K${frames[frame++ % frames.length]} ${`${title}${last ? `: ${last}` : ''}`.slice(0, width)}`);
	};
	const timer = terminal ? setInterval(draw, 100) : undefined;
	const onInterrupt = () => {
		process.stderr.write(`${terminal ? '\n' : ''}cancelling…\n`);
		controller.abort();
	};
	process.once('SIGINT', onInterrupt);
	return {
		signal: controller.signal,
		onProgress(value) {
			if (value.kind === 'begin') {
				title = value.title;
				if (!terminal) process.stderr.write(`${title}\n`);
			} else if (value.kind === 'report' && value.message) {
				const lines = value.message.split('\n');
				last = lines.at(-1) ?? '';
				if (!terminal) for (const line of lines) process.stderr.write(`  ${line}\n`);
			} else if (value.kind === 'end') {
				if (terminal) process.stderr.write(`\r\x1b[2K`);
				process.stderr.write(`${value.message ?? title}\n`);
			}
		},
		stop() {
			clearInterval(timer);
			process.off('SIGINT', onInterrupt);
		},
	};
}
