import { ErrorCodes } from '@spyder-remote/protocol';

/**
 * The bridge's own error codes. They live in 2000-2999, a range the public
 * protocol leaves to local layers (spec/README.md, "Ranges"), so a server
 * code passed through to the plugin is never mistaken for one of these.
 */
export const BRIDGE_ERROR_RANGE = { first: 2000, last: 2999 } as const;

export namespace BridgeErrorCodes {
	/** The host could not be reached: name not found, refused, timed out. */
	export const Unreachable = 2001;
	/** The server's certificate differs from the one pinned for it. Never overridden by the bridge. */
	export const HostKeyChanged = 2002;
	/** The user did not trust a server seen for the first time; nothing was sent to it. */
	export const HostNotTrusted = 2003;
	/** Something answered, but not a compatible spyder-remote server. */
	export const NotSpyderRemote = 2004;
	/** The session handle is unknown or its connection was lost. */
	export const NoSession = 2005;
	/** A key login was asked for, but no key was saved on this computer. */
	export const NoKey = 2006;
	/** Never sent by the bridge: the plugin's own code when the bridge did not start, is not running or has stopped. */
	export const NotRunning = 2007;
	/** The running kernel cannot serve this Spyder: its spyder-kernels is outside the Spyder's range, or it is no Spyder kernel. */
	export const KernelIncompatible = 2008;
	/** The bridge itself failed; the message says how. */
	export const Internal = 2099;
}

export const bridgeErrorCodeNames: ReadonlyMap<number, string> = new Map(Object.entries(BridgeErrorCodes).map(([name, code]) => [code as number, name]));

/** What each code means, for the README. The message of an error is the sentence the user sees. */
export const bridgeErrorDocumentation: Readonly<Record<keyof typeof BridgeErrorCodes, string>> = {
	Unreachable: 'the name is not known, the connection was refused or timed out',
	HostKeyChanged: 'the certificate differs from the pinned one. The message names both fingerprints and the `known_hosts` file',
	HostNotTrusted: 'the user refused the fingerprint',
	NotSpyderRemote: 'something answered, but it is not a spyder-remote server this bridge can use',
	NoSession: 'the session handle is unknown, or its connection is closed',
	NoKey: 'a key login was asked for, but no key was saved',
	NotRunning: 'never sent by the bridge: the plugin reports with it that the bridge did not start, is not running or has stopped',
	KernelIncompatible:
		"`kernel/attach` refused: the kernel's environment has a spyder-kernels outside this Spyder's range, none, or is no longer listed, or the kernel is not a Spyder kernel. The message gives the reason `kernel/list` shows",
	Internal: 'the bridge itself failed, or was not initialized',
};

/** Any request may fail with these, beyond its own `meta.errors`. */
export const genericBridgeErrors: readonly number[] = [BridgeErrorCodes.Internal, ErrorCodes.MethodNotFound];

/** Every request on a session may also fail with these: its handle is stale, or the server logged it out. */
export const sessionErrors: readonly number[] = [BridgeErrorCodes.NoSession, ErrorCodes.Unauthenticated];
