import { randomBytes } from 'node:crypto';
import type { InitializeResult } from '@spyder-remote/protocol';
import { Recorder } from './recorder.js';
import { RawPeer, RpcPeer, type Target } from './wire.js';

/** What every check gets: the server, the account, the recorder, and connections that are closed at the end. */
export class Context {
	/** Marks what this run creates on the server, so names never clash with the user's own. */
	readonly tag = randomBytes(4).toString('hex');
	private readonly peers = new Set<{ destroy(): void }>();
	private readonly cleanups: (() => Promise<unknown>)[] = [];

	constructor(
		readonly target: Target,
		readonly user: string,
		readonly password: string,
		readonly record: Recorder,
		readonly initialize: InitializeResult,
	) {}

	async open(): Promise<RpcPeer> {
		return this.track(await RpcPeer.open(this.target));
	}

	async openRaw(): Promise<RawPeer> {
		return this.track(await RawPeer.open(this.target));
	}

	/** A new connection, initialized and logged in with the password. */
	async loggedIn(): Promise<RpcPeer> {
		const peer = await this.open();
		await peer.initialize();
		await peer.login(this.user, this.password);
		return peer;
	}

	track<T extends { destroy(): void }>(peer: T): T {
		this.peers.add(peer);
		return peer;
	}

	/** Undoes what a check made on the server (an environment, a kernel) even when the check fails half way. */
	onCleanup(cleanup: () => Promise<unknown>): void {
		this.cleanups.push(cleanup);
	}

	async close(): Promise<void> {
		// The verdicts are in; a cleanup that fails (the server already closed it) must not stop the others.
		for (const cleanup of this.cleanups.reverse()) await cleanup().catch(() => undefined);
		for (const peer of this.peers) peer.destroy();
	}
}

/** Checks that run together; when the group cannot run, each of them is reported, never silently dropped. */
export interface Group {
	readonly ids: readonly string[];
	run(context: Context): Promise<void>;
}

export function group(ids: readonly string[], body: (context: Context) => Promise<void>): Group {
	return {
		ids,
		async run(context) {
			try {
				await body(context);
			} catch (error) {
				context.record.blocked(ids, error instanceof Error ? error.message : String(error));
			}
		},
	};
}
