import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';

/**
 * A child's output is its own text (the user's, for anything that runs as
 * the user): it is kept and passed on only as opaque lines, each cut to this
 * many characters, so that one endless line cannot fill a log or a message.
 */
export const MAX_LINE_CHARS = 2000;

/**
 * How many of a child's last lines are kept for an error message: enough for
 * a Python traceback's innermost frames and its error, and a fixed amount of
 * memory however much the child writes.
 */
export const TAIL_LINES = 30;

/** One line of a child's output, bounded for a log or a message. */
export function boundLine(line: string): string {
	return line.slice(0, MAX_LINE_CHARS);
}

/**
 * Reads `stream` line by line: each line goes to `onLine` as it comes, and
 * the array returned holds the last TAIL_LINES of them, bounded, for the
 * error message when the child fails.
 */
export function keepTail(stream: Readable, onLine?: (line: string) => void): readonly string[] {
	const tail: string[] = [];
	createInterface({ input: stream }).on('line', (line) => {
		tail.push(boundLine(line));
		if (tail.length > TAIL_LINES) tail.shift();
		onLine?.(line);
	});
	return tail;
}
