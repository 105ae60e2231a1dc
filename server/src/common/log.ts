import { destination, pino, type Logger } from 'pino';

export type { Logger };

/** Structured JSON logs on stderr, so stdout stays free for what people and scripts read. */
export function createLogger(level: string, bindings: Record<string, unknown> = {}): Logger {
	return pino({ level, base: { pid: process.pid, ...bindings } }, destination(2));
}
