/**
 * The bridge's own small protocol with the Spyder plugin: JSON-RPC 2.0 with
 * Content-Length framing over the bridge's stdin and stdout. README.md is its
 * documentation; every method is defined here once.
 */
import type { DiscoveredServer } from '@spyder-remote/client';
import type { Environment, EnvironmentKind, InstalledPackage, Kernel, KernelDidExitParams, KernelState, WhoamiResult } from '@spyder-remote/protocol';
import { NotificationType, RequestType } from 'vscode-jsonrpc/node';

export const BRIDGE_VERSION = '0.1.0';

/** Bridge errors, beside the server's own codes (1000-1999), which pass through with their message. */
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
	/** The bridge itself failed; the message says how. */
	export const Internal = 2099;
}

export interface InitializeParams {
	/** e.g. `5.4.2`: named in compatibility reasons. */
	readonly spyderVersion: string;
	/** The spyder-kernels versions this Spyder accepts, e.g. `>=2.4.0,<2.5.0`. */
	readonly spyderKernelsRange: string;
	/** Stop the kernels this bridge opened when it exits, instead of leaving them running. Default false. */
	readonly stopKernelsOnExit?: boolean;
	/** Where connection files go; default the Jupyter runtime directory. */
	readonly connectionDir?: string;
}
export interface InitializeResult {
	readonly bridgeVersion: string;
	/** Where known_hosts and the key pair live. */
	readonly configDir: string;
	/** Fingerprint of the saved key pair, if one was saved. */
	readonly keyFingerprint?: string;
}

export interface DiscoveryStartParams {
	/** Interface names or IPv4 addresses; default every IPv4 interface, loopback included. */
	readonly interfaces?: readonly string[];
}
export interface DiscoveryEventParams {
	readonly type: 'up' | 'updated' | 'down';
	readonly server: DiscoveredServer;
}

export interface SessionOpenParams {
	readonly host: string;
	readonly port?: number;
	/** What a discovery announcement said; only compared, never trusted. */
	readonly announcedFingerprint?: string;
	/** How the server is shown to the user, e.g. a discovered instance name; default the host. */
	readonly label?: string;
}
export interface SessionInfo {
	readonly session: string;
	readonly host: string;
	readonly port: number;
	readonly label: string;
	readonly fingerprint: string;
	readonly serverName: string;
	readonly serverVersion: string;
	readonly authMethods: readonly string[];
	/** Set once logged in. */
	readonly user?: string;
}
export interface SessionParams {
	readonly session: string;
}
export interface LoginParams extends SessionParams {
	readonly user: string;
	/** Without a password, the saved key pair is used. */
	readonly password?: string;
}
export interface LoginResult {
	readonly info: SessionInfo;
	readonly whoami: WhoamiResult;
	readonly method: 'password' | 'key';
}
export interface SaveKeyResult {
	readonly fingerprint: string;
}

/** Bridge → plugin, while `session/open` runs: a server without a pin, shown to the user. */
export interface ConfirmHostParams {
	readonly host: string;
	readonly port: number;
	readonly fingerprint: string;
	/** Present when discovery announced another fingerprint than the certificate shows. */
	readonly announcedFingerprint?: string;
}
export interface ConfirmHostResult {
	readonly trust: boolean;
}

/** An environment as Spyder shows it: usable or not, and why not, in a sentence. */
export interface EnvironmentView extends Environment {
	readonly usable: boolean;
	readonly reason?: string;
}
export interface EnvironmentListParams extends SessionParams {
	readonly refresh?: boolean;
}
export interface OperationParams extends SessionParams {
	/** Chosen by the plugin: `operation/progress` notifications carry it. */
	readonly operation?: string;
}
export interface EnvironmentCreateParams extends OperationParams {
	readonly name: string;
	readonly kind: Extract<EnvironmentKind, 'venv' | 'conda'>;
	readonly python?: string;
	readonly packages?: readonly string[];
	readonly systemSitePackages?: boolean;
}
export interface EnvironmentIdParams extends OperationParams {
	readonly id: string;
}
export interface EnvironmentPackagesParams extends OperationParams {
	readonly id: string;
	readonly packages: readonly string[];
}
export interface OperationProgressParams {
	readonly operation: string;
	readonly kind: 'begin' | 'report' | 'end';
	readonly title?: string;
	readonly message?: string;
	readonly percentage?: number;
}
export interface EnvironmentsChangedParams extends SessionParams {
	readonly added: readonly EnvironmentView[];
	readonly changed: readonly EnvironmentView[];
	readonly removed: readonly string[];
}

export interface KernelIdParams extends SessionParams {
	readonly id: string;
}
export interface KernelStartParams extends SessionParams {
	readonly environment: string;
	readonly cwd?: string;
}
/** A kernel made usable here: its forwarder is open and the connection file written. */
export interface OpenedKernel {
	readonly kernel: Kernel;
	readonly connectionFile: string;
	/** For the console tab, e.g. `alice@labserver/analysis`. */
	readonly displayName: string;
}
export interface KernelReleaseParams {
	readonly id: string;
	/** Shut the kernel down too; default false: it keeps running for a later attach. */
	readonly stop?: boolean;
}
export type KernelEventParams =
	| { readonly session: string; readonly type: 'state'; readonly id: string; readonly state: KernelState }
	| ({ readonly session: string; readonly type: 'exit'; readonly expected: boolean } & KernelDidExitParams)
	/** A forwarded kernel is ready again after a restart, whoever asked for it, and its forwarder follows its new comm port. */
	| { readonly session: string; readonly type: 'restarted'; readonly id: string; readonly kernel: Kernel };
export interface SessionClosedParams extends SessionParams {
	readonly reason: string;
}
export interface LogParams {
	readonly level: 'info' | 'warning' | 'error';
	readonly message: string;
}
export interface ShutdownParams {
	/** Overrides `stopKernelsOnExit` for this exit. */
	readonly stopKernels?: boolean;
}

export const Initialize = new RequestType<InitializeParams, InitializeResult, void>('initialize');
export const Shutdown = new RequestType<ShutdownParams, null, void>('shutdown');

export const DiscoveryStart = new RequestType<DiscoveryStartParams, { servers: DiscoveredServer[] }, void>('discovery/start');
export const DiscoveryStop = new RequestType<Record<string, never>, null, void>('discovery/stop');
export const DiscoveryEvent = new NotificationType<DiscoveryEventParams>('discovery/event');

export const SessionOpen = new RequestType<SessionOpenParams, SessionInfo, void>('session/open');
export const SessionLogin = new RequestType<LoginParams, LoginResult, void>('session/login');
export const SessionSaveKey = new RequestType<SessionParams, SaveKeyResult, void>('session/saveKey');
export const SessionWhoami = new RequestType<SessionParams, WhoamiResult, void>('session/whoami');
export const SessionList = new RequestType<Record<string, never>, { sessions: SessionInfo[] }, void>('session/list');
export const SessionClose = new RequestType<SessionParams, null, void>('session/close');
export const SessionClosed = new NotificationType<SessionClosedParams>('session/closed');
export const ConfirmHost = new RequestType<ConfirmHostParams, ConfirmHostResult, void>('host/confirm');

export const EnvironmentList = new RequestType<EnvironmentListParams, { environments: EnvironmentView[] }, void>('environment/list');
export const EnvironmentPackages = new RequestType<EnvironmentIdParams, { packages: InstalledPackage[] }, void>('environment/packages');
export const EnvironmentCreate = new RequestType<EnvironmentCreateParams, { environment: EnvironmentView }, void>('environment/create');
export const EnvironmentRemove = new RequestType<EnvironmentIdParams, null, void>('environment/remove');
export const EnvironmentInstall = new RequestType<EnvironmentPackagesParams, { environment: EnvironmentView }, void>('environment/install');
export const EnvironmentUninstall = new RequestType<EnvironmentPackagesParams, { environment: EnvironmentView }, void>('environment/uninstall');
export const EnvironmentsChanged = new NotificationType<EnvironmentsChangedParams>('environment/changed');
export const OperationProgress = new NotificationType<OperationProgressParams>('operation/progress');

export const KernelList = new RequestType<SessionParams, { kernels: Kernel[] }, void>('kernel/list');
export const KernelStart = new RequestType<KernelStartParams, OpenedKernel, void>('kernel/start');
export const KernelAttach = new RequestType<KernelIdParams, OpenedKernel, void>('kernel/attach');
export const KernelRelease = new RequestType<KernelReleaseParams, null, void>('kernel/release');
export const KernelInterrupt = new RequestType<KernelIdParams, null, void>('kernel/interrupt');
export const KernelRestart = new RequestType<KernelIdParams, { kernel: Kernel }, void>('kernel/restart');
export const KernelShutdown = new RequestType<KernelIdParams, null, void>('kernel/shutdown');
export const KernelEvent = new NotificationType<KernelEventParams>('kernel/event');

export const Log = new NotificationType<LogParams>('log');
