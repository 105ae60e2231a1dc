import { ResponseError } from 'vscode-jsonrpc/node';
import { checks, checksById, specAnchor, type CheckDefinition } from './catalogue.js';
import { codeName } from './wire.js';

export type Status = 'pass' | 'fail' | 'n/a';

export interface CheckResult extends CheckDefinition {
	readonly status: Status;
	/** Why it failed or does not apply. */
	readonly detail?: string;
	/** The section's anchor in spec/README.md. */
	readonly anchor: string;
}

/** An unexpected error answer is reported with its code, since the code is what the spec prescribes. */
const describe = (error: unknown) =>
	error instanceof ResponseError ? `unexpected error ${codeName(error.code)}: ${error.message}` : error instanceof Error ? error.message : String(error);

/** Thrown by a check that needs a capability the server does not announce: reported as N/A, never as passed. */
export class NotApplicable extends Error {}

/** Collects one outcome per check; a check nobody reached is a failure, so a crash cannot look like success. */
export class Recorder {
	private readonly outcomes = new Map<string, { status: Status; detail?: string }>();

	constructor(private readonly onResult?: (result: CheckResult) => void) {}

	/** Runs one check: PASS when `body` returns, N/A on NotApplicable, FAIL with the message on anything else. */
	async run(id: string, body: () => Promise<void>): Promise<boolean> {
		try {
			await body();
			this.set(id, 'pass');
			return true;
		} catch (error) {
			if (error instanceof NotApplicable) this.set(id, 'n/a', error.message);
			else this.set(id, 'fail', describe(error));
			return false;
		}
	}

	notApplicable(ids: readonly string[], why: string): void {
		for (const id of ids) this.set(id, 'n/a', why);
	}

	/** Checks that could not run because something they build on failed. */
	blocked(ids: readonly string[], because: string): void {
		for (const id of ids) if (!this.outcomes.has(id)) this.set(id, 'fail', `not run: ${because}`);
	}

	results(): CheckResult[] {
		return checks.map((definition) => {
			const outcome = this.outcomes.get(definition.id) ?? { status: 'fail' as const, detail: 'not run (a bug in ssd-conformance)' };
			return { ...definition, anchor: specAnchor(definition.section), ...outcome };
		});
	}

	private set(id: string, status: Status, detail?: string): void {
		const definition = checksById.get(id);
		if (!definition) throw new Error(`unknown check ${id}`);
		if (this.outcomes.has(id)) return;
		this.outcomes.set(id, detail === undefined ? { status } : { status, detail });
		this.onResult?.({ ...definition, anchor: specAnchor(definition.section), status, ...(detail === undefined ? {} : { detail }) });
	}
}
