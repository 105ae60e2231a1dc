/**
 * Version ranges as Python packaging writes them ('>=2.4.0,<2.5.0'), to
 * check an installed package against what the server needs. Only plain
 * comparison clauses are understood; '~=', '===' and wildcards are refused
 * rather than guessed at, since a wrong guess would accept a kernel that
 * cannot talk to the client.
 */

export interface VersionRange {
	/** The range as given, for messages. */
	readonly text: string;
	/** False also for a version that cannot be read: it cannot be shown to fit. */
	includes(version: string): boolean;
}

/** Throws on a clause it does not understand: ranges come from configuration, where a typo should be loud. */
export function parseVersionRange(text: string): VersionRange {
	const clauses = text.split(',').map((clause) => parseClause(clause, text));
	return {
		text,
		includes(version) {
			const parsed = parseVersion(version);
			return parsed !== undefined && clauses.every((clause) => satisfies(parsed, clause));
		},
	};
}

type Operator = '>=' | '>' | '<=' | '<' | '==' | '!=';

interface Clause {
	readonly operator: Operator;
	readonly version: ParsedVersion;
}

interface ParsedVersion {
	readonly release: readonly number[];
	/** Where the version sits around its release: dev < alpha < beta < rc < final < post. */
	readonly phase: number;
	readonly serial: number;
}

function parseClause(clause: string, range: string): Clause {
	const match = /^\s*(>=|<=|==|!=|>|<)\s*(\S+)\s*$/.exec(clause);
	const version = match ? parseVersion(match[2]!) : undefined;
	if (!match || !version) throw new Error(`unsupported version range ${JSON.stringify(range)}: cannot read the clause ${JSON.stringify(clause.trim())}`);
	return { operator: match[1] as Operator, version };
}

const phases: Record<string, number> = { dev: -4, alpha: -3, a: -3, beta: -2, b: -2, preview: -1, pre: -1, rc: -1, c: -1, post: 1, rev: 1, r: 1 };

/**
 * Reads the release numbers and at most one suffix after them (2.5.0rc1,
 * 1.0.post2, 3.0.dev1); anything further, such as a local '+git…' label,
 * does not change the order.
 */
function parseVersion(version: string): ParsedVersion | undefined {
	const match = /^\s*v?(\d+(?:\.\d+)*)(?:[-_.]?(dev|alpha|beta|preview|pre|post|rev|rc|a|b|c|r)[-_.]?(\d*))?/i.exec(version);
	if (!match) return undefined;
	return {
		release: match[1]!.split('.').map(Number),
		phase: match[2] ? phases[match[2].toLowerCase()]! : 0,
		serial: Number(match[3] || 0),
	};
}

/** 2.4 and 2.4.0 are the same version, as in Python packaging. */
function compare(left: ParsedVersion, right: ParsedVersion): number {
	const length = Math.max(left.release.length, right.release.length);
	for (let index = 0; index < length; index++) {
		const difference = (left.release[index] ?? 0) - (right.release[index] ?? 0);
		if (difference !== 0) return difference;
	}
	return left.phase - right.phase || left.serial - right.serial;
}

/**
 * As in Python packaging, '<2.5.0' leaves out 2.5.0rc1: a release candidate
 * of the version a range stops before already has that version's changes.
 */
function isPreReleaseOf(version: ParsedVersion, bound: ParsedVersion): boolean {
	return version.phase < 0 && bound.phase >= 0 && compare({ ...version, phase: 0, serial: 0 }, { ...bound, phase: 0, serial: 0 }) === 0;
}

function satisfies(version: ParsedVersion, clause: Clause): boolean {
	const order = compare(version, clause.version);
	switch (clause.operator) {
		case '>=':
			return order >= 0;
		case '>':
			return order > 0;
		case '<=':
			return order <= 0;
		case '<':
			return order < 0 && !isPreReleaseOf(version, clause.version);
		case '==':
			return order === 0;
		case '!=':
			return order !== 0;
	}
}
