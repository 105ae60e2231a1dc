import { WorkDoneProgress, type ProgressToken } from 'vscode-languageserver-protocol';
import type { MessageConnection } from 'vscode-jsonrpc/node';
import { boundLine } from '../common/output-tail.js';

/** Tool output arrives in bursts of hundreds of lines: they are batched into a few reports a second. */
const reportIntervalMs = 100;
const maxLinesPerReport = 200;

/**
 * LSP work-done progress for one request: begin, reports, end, under the
 * token the client passed. Without a token every call is a no-op.
 */
export class WorkDoneReporter {
	private pending: string[] = [];
	private timer: NodeJS.Timeout | undefined;

	constructor(
		private readonly connection: MessageConnection,
		private readonly token: ProgressToken | undefined,
	) {}

	begin(title: string, cancellable: boolean): void {
		this.send({ kind: 'begin', title, cancellable });
	}

	/** One line of output; lines are batched, and past a few hundred a batch the rest are dropped. */
	report(message: string): void {
		if (this.token === undefined) return;
		if (this.pending.length < maxLinesPerReport) this.pending.push(boundLine(message));
		this.timer ??= setTimeout(() => this.flush(), reportIntervalMs);
	}

	end(message: string): void {
		this.flush();
		this.send({ kind: 'end', message });
	}

	private flush(): void {
		clearTimeout(this.timer);
		this.timer = undefined;
		if (this.pending.length > 0) this.send({ kind: 'report', message: this.pending.join('\n') });
		this.pending = [];
	}

	private send(value: WorkDoneProgressValue): void {
		if (this.token === undefined) return;
		// Fails only once the client is gone: then nobody is left to show progress to.
		void this.connection.sendProgress(WorkDoneProgress.type, this.token, value).catch(() => undefined);
	}
}

type WorkDoneProgressValue = { kind: 'begin'; title: string; cancellable: boolean } | { kind: 'report'; message: string } | { kind: 'end'; message: string };
