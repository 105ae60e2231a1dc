import type { FramingLimits } from '@spyder-remote/protocol/node';
import type { EnvironmentSettings, WarmPoolEntry } from '../config.js';

/** Everything the daemon tells a session host at start, as one JSON argument. */
export interface SessionHostSettings {
	readonly limits: FramingLimits;
	/** Seconds without connections (and, later, kernels) before the host exits. */
	readonly idleTimeout: number;
	readonly logLevel: string;
	/** Mirrors the daemon's announced keyRegistration capability. */
	readonly keyRegistration: boolean;
	readonly environments: EnvironmentSettings;
	/** Seconds kernels outlive the user's last connection. */
	readonly kernelLease: number;
	/** The server's `kernels.warmPool`: kernels each user's host keeps started ahead of time. */
	readonly warmPool: readonly WarmPoolEntry[];
}

/** What a session host writes first on every connection, followed by its secret and a newline. */
export const HOST_GREETING = 'SSD-HOST ';
/** How the daemon starts a tunnel hand-over on a host connection; anything else there is JSON-RPC. */
export const TUNNEL_PREFIX = 'TUNNEL ';
