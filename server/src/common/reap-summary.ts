/** What the leftover reaper (bin/ssd-reaper.ts) prints, as one JSON line, for the daemon to log. */
export interface ReapSummary {
	/** Session hosts of an earlier daemon that were still running. */
	readonly hosts: number;
	/** Kernel process groups stopped. */
	readonly kernels: number;
	/** Kernel directories removed. */
	readonly directories: number;
	/** Session host sockets removed. */
	readonly sockets: number;
}

const fields = ['hosts', 'kernels', 'directories', 'sockets'] as const;

/**
 * The reaper runs as the user, so its output is the user's text: this is a
 * summary only if it is exactly one, and then only the known counts are
 * kept. Otherwise undefined, and the caller logs the output as opaque.
 */
export function parseReapSummary(output: string): ReapSummary | undefined {
	let value: unknown;
	try {
		value = JSON.parse(output);
	} catch {
		return undefined;
	}
	if (typeof value !== 'object' || value === null) return undefined;
	const record = value as Record<string, unknown>;
	if (!fields.every((field) => Number.isSafeInteger(record[field]) && (record[field] as number) >= 0)) return undefined;
	return Object.fromEntries(fields.map((field) => [field, record[field]])) as unknown as ReapSummary;
}
