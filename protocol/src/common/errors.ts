import { ErrorCodes as JsonRpcErrorCodes } from 'vscode-jsonrpc';
import { LSPErrorCodes } from 'vscode-languageserver-protocol';

/**
 * Every error code a spyder-remote peer may send. JSON-RPC's own codes and the
 * LSP codes keep their meaning; spyder-remote's own codes live in 1000-1999 so
 * they never collide with either reserved range. 2000-2999 is never used here:
 * it is left to local layers that pass these codes on, such as
 * spyder-remote-bridge.
 */
export namespace ErrorCodes {
	export const ParseError = JsonRpcErrorCodes.ParseError;
	export const InvalidRequest = JsonRpcErrorCodes.InvalidRequest;
	export const MethodNotFound = JsonRpcErrorCodes.MethodNotFound;
	export const InvalidParams = JsonRpcErrorCodes.InvalidParams;
	export const InternalError = JsonRpcErrorCodes.InternalError;
	/** A request other than `initialize` arrived before `initialize`. */
	export const ServerNotInitialized = JsonRpcErrorCodes.ServerNotInitialized;
	export const RequestCancelled = LSPErrorCodes.RequestCancelled;

	/** The request needs a logged-in connection. No data is returned. */
	export const Unauthenticated = 1001;
	/** Wrong password, unknown user, expired account or unknown key: one answer for all. */
	export const AuthenticationFailed = 1002;
	/** The client's protocol version is not compatible; the message names both versions. */
	export const ProtocolVersionMismatch = 1003;
	/** The connection used up its login attempts and is being closed. */
	export const TooManyAuthAttempts = 1004;
	/** A login method was called on a connection that is already logged in. */
	export const AlreadyAuthenticated = 1005;
	/** The user's session host could not be started. (If it dies later, its connections are closed.) */
	export const SessionUnavailable = 1006;
	/** `shutdown` was already received on this connection. */
	export const ShuttingDown = 1007;
	/** A login method was called that the server does not offer. */
	export const AuthMethodUnavailable = 1008;

	/** No environment of this user has that id. */
	export const EnvironmentNotFound = 1101;
	/** Server policy does not let this user change that environment. */
	export const PermissionDenied = 1102;
	/** A path lies outside the roots the server allows. */
	export const PathNotAllowed = 1103;
	/** pip, conda or venv failed; `data` has `exitCode` (absent when a signal ended the tool) and `tail`, its last 20 lines of output. */
	export const ToolFailed = 1104;
	/** The tool the operation needs is not on this server (e.g. no conda, mamba or micromamba). */
	export const ToolUnavailable = 1105;
	/** An environment of that name already exists. */
	export const EnvironmentExists = 1106;

	/** No kernel of this user has that id. */
	export const KernelNotFound = 1201;
	/** The environment cannot run the kernel asked for (package missing, version outside the range), or a channel is not open yet. */
	export const KernelUnavailable = 1202;
	/** The kernel process failed to start or to become ready; `data.stderrTail` says why. */
	export const KernelFailed = 1203;
}

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

/** Human names for the codes, used by the spec, the meta model and client messages. */
export const errorCodeNames: ReadonlyMap<number, string> = new Map(Object.entries(ErrorCodes).map(([name, code]) => [code as number, name]));
