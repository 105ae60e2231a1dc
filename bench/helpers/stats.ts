// Statistics for the benches' JSON reports.

export const ascending = (values: readonly number[]) => [...values].sort((a, b) => a - b);

/** Nearest-rank percentile of values sorted ascending. */
export function percentile(sorted: readonly number[], p: number): number {
	if (sorted.length === 0) return NaN;
	const rank = Math.ceil((p / 100) * sorted.length);
	return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

export const median = (values: readonly number[]) => percentile(ascending(values), 50);

/** NaN and Infinity (no samples) pass through: JSON.stringify reports them as null. */
export const round = (value: number, digits = 1) => Number(value.toFixed(digits));

/** Count and p50/p90/p99 of values sorted ascending. */
export function percentiles(sorted: readonly number[], digits = 1) {
	return {
		n: sorted.length,
		p50: round(percentile(sorted, 50), digits),
		p90: round(percentile(sorted, 90), digits),
		p99: round(percentile(sorted, 99), digits),
	};
}

/** Median, min and max of per-round figures, where one round can be far off on a shared machine. */
export function spread(values: readonly number[], digits = 1) {
	return { median: round(median(values), digits), min: round(Math.min(...values), digits), max: round(Math.max(...values), digits) };
}
