/**
 * The lease: how long the user's kernels outlive their last connection, so
 * that a client that drops (a laptop closed, a network lost) finds them
 * again when it re-attaches within it.
 */
export interface KernelLeaseOptions {
	readonly leaseMs: number;
	/** Called when the lease runs out with no connection back. */
	readonly onExpiry: () => void;
}

export class KernelLease {
	private timer: NodeJS.Timeout | undefined;
	private expiry: Date | undefined;

	constructor(private readonly options: KernelLeaseOptions) {}

	/** When the kernels will be stopped, while no connection is left. */
	get expiresAt(): Date | undefined {
		return this.expiry;
	}

	/** The user's connection count changed: with none left and kernels to keep, the lease starts; with one, it is cancelled. */
	connectionsChanged(connections: number, kernels: number): void {
		this.cancel();
		if (connections > 0 || kernels === 0) return;
		this.expiry = new Date(Date.now() + this.options.leaseMs);
		this.timer = setTimeout(this.options.onExpiry, this.options.leaseMs);
	}

	cancel(): void {
		clearTimeout(this.timer);
		this.timer = undefined;
		this.expiry = undefined;
	}
}
