/**
 * Every check the suite can report, in report order, each tied to the spec
 * section it holds a server to. The headings are copied from spec/README.md
 * so the report can link to them; a test fails when a heading changes.
 */
export const specHeadings = {
	'2.1': '2.1 Transport',
	'2.2': '2.2 Framing',
	'2.3': '2.3 JSON-RPC 2.0',
	'2.4': '2.4 Cancellation and progress (LSP conventions)',
	'3.2': '3.2 Before login (served by the daemon)',
	'3.3': '3.3 The login boundary and pipelining',
	'3.4': '3.4 After login (served by the session host)',
	'3.5': '3.5 Summary: answer by state',
	'4': '4. Capabilities and version negotiation',
	'5.1': '5.1 General',
	'5.2': '5.2 Password login',
	'5.3': '5.3 Key login',
	'5.7': '5.7 Server identity and certificate pinning',
	'6.1': '6.1 `initialize`',
	'6.3': '6.3 `shutdown`',
	'6.4': '6.4 `exit`',
	'6.11.4': '6.11.4 Compatibility',
	'6.11.5': '6.11.5 Progress, cancellation and ordering',
	'6.11.8': '6.11.8 `environment/list`',
	'6.11.9': '6.11.9 `environment/didChange`',
	'6.11.10': '6.11.10 `environment/create`',
	'6.11.11': '6.11.11 `environment/remove`',
	'6.11.12': '6.11.12 `environment/packages`',
	'6.12.6': '6.12.6 `kernel/start`',
	'6.12.7': '6.12.7 `kernel/list`',
	'6.12.10': '6.12.10 `kernel/shutdown`',
	'6.12.11': '6.12.11 `kernel/attach`',
	'6.12.12': '6.12.12 `kernel/connect`',
	'6.12.13': '6.12.13 `kernel/didChangeState`',
	'6.13': '6.13 Tunnel protocol',
	'6.15.1': '6.15.1 Types',
	'6.15.6': '6.15.6 `server/capabilities`',
} as const;

export type SpecSection = keyof typeof specHeadings;

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces as dashes. */
export function specAnchor(section: SpecSection): string {
	return `#${specHeadings[section]
		.toLowerCase()
		.replace(/[^\p{L}\p{N} _-]/gu, '')
		.replace(/ /g, '-')}`;
}

export interface CheckDefinition {
	readonly id: string;
	readonly section: SpecSection;
	readonly title: string;
}

const check = (id: string, section: SpecSection, title: string): CheckDefinition => ({ id, section, title });

export const checks: readonly CheckDefinition[] = [
	check('transport.tls13', '2.1', 'TLS 1.3 is negotiated and the server selects ALPN spyder-remote/1'),
	check('transport.no-tls12', '2.1', 'a ClientHello limited to TLS 1.2 is refused'),
	check('transport.alpn-required', '2.1', 'a ClientHello that does not offer spyder-remote/1 is refused'),
	check('transport.fingerprint', '5.7', 'the certificate fingerprint has the SHA256 form and matches --fingerprint'),

	check('lifecycle.initialize', '6.1', 'initialize answers an InitializeResult with a compatible protocolVersion'),
	check('lifecycle.before-initialize', '3.2', 'before initialize, login and logged-in requests get ServerNotInitialized'),
	check('lifecycle.shutdown-first', '3.5', 'shutdown is allowed before initialize and answers null'),
	check('lifecycle.second-initialize', '3.5', 'a second initialize gets InvalidRequest'),
	check('lifecycle.shutdown', '6.3', 'after shutdown every request gets ShuttingDown, and exit closes the connection'),
	check('lifecycle.exit', '6.4', 'exit without shutdown closes the connection'),
	check('version.major', '4', 'another MAJOR gets ProtocolVersionMismatch naming both versions, and the connection stays usable'),
	check('version.minor', '4', 'while MAJOR is 0, another MINOR gets ProtocolVersionMismatch'),
	check('version.patch', '4', 'another PATCH is compatible'),
	check('version.malformed', '4', 'a version that does not parse gets ProtocolVersionMismatch'),
	check('capabilities.auth', '4', 'authMethods is announced, and keyRegistration is true exactly when publicKey is offered'),

	check('framing.split', '2.2', 'a frame split across writes, a Content-Type header, and two frames in one write are all served in order'),
	check('framing.missing-content-length', '2.2', 'a header without Content-Length closes the connection with no response'),
	check('framing.non-numeric', '2.2', 'a non-numeric Content-Length closes the connection with no response'),
	check('framing.negative', '2.2', 'a negative Content-Length closes the connection with no response'),
	check('framing.too-large', '2.2', 'a Content-Length above maxMessageBytes closes the connection before any content'),
	check('framing.header-flood', '2.2', 'a header part longer than maxHeaderBytes closes the connection with no response'),
	check('framing.invalid-json', '2.2', 'invalid JSON gets ParseError with id null, then the connection closes'),
	check('framing.batch', '2.2', 'a batch gets InvalidRequest with id null, then the connection closes'),
	check('framing.isolation', '2.2', 'after those faults a new connection is served normally'),

	check('methods.before-initialize', '3.2', 'an unknown method before initialize gets MethodNotFound'),
	check('methods.before-login', '3.2', 'unknown methods, $/ methods and notifications sent as requests get MethodNotFound before login'),
	check('params.before-login', '2.3', 'params that break the schema get InvalidParams before login'),
	check('params.unknown-members', '2.3', 'unknown members in params are ignored'),
	check('unauthenticated.requests', '3.2', 'session/*, environment/*, kernel/* and auth/registerKey get Unauthenticated before login'),
	check('auth.method-unavailable', '5.1', 'a key login on a server that does not offer publicKey gets AuthMethodUnavailable'),
	check('auth.challenge', '5.3', 'auth/challenge answers a nonce for any user and key'),

	check('auth.password', '5.2', 'auth/password with the right password logs in, and session/whoami names the user'),
	check('auth.pipelined', '3.3', 'requests pipelined behind a login are answered as the user, after the login result'),
	check('lifecycle.logged-in', '3.4', 'after login: initialize gets InvalidRequest, login AlreadyAuthenticated, shutdown then ShuttingDown, exit closes'),
	check('methods.after-login', '3.4', 'unknown methods and notifications sent as requests get MethodNotFound after login'),
	check('methods.notifications-ignored', '2.3', 'unknown notifications and $/cancelRequest for an unknown id are ignored'),
	check('params.after-login', '2.3', 'params that break the schema get InvalidParams after login'),
	check('params.no-params', '2.3', 'a request without params is served with params absent or null, and gets InvalidParams for {}'),
	check('framing.after-login', '2.2', 'after login, invalid JSON gets ParseError, then the connection closes'),

	check('environments.list', '6.11.8', 'environment/list and a refresh answer valid environments, unique ids, sorted by kind'),
	check('environments.range', '6.11.4', 'with spyderKernelsRange every environment carries compatible'),
	check('environments.packages', '6.11.12', 'environment/packages answers valid packages sorted by name'),
	check('environments.not-found', '6.11.12', 'an unknown environment id gets EnvironmentNotFound'),
	check('environments.create-progress', '6.11.5', 'environment/create of a venv reports begin and end under its workDoneToken, before its result'),
	check('environments.did-change', '6.11.9', 'environment/didChange announces the new environment to every connection of the user'),
	check('environments.remove', '6.11.11', 'environment/remove deletes it: null result, gone from the list, announced as removed'),
	check('environments.cancel', '2.4', '$/cancelRequest stops a create with RequestCancelled and leaves nothing behind'),

	check('kernels.list', '6.12.7', 'kernel/list answers a valid KernelListResult'),
	check('kernels.not-found', '6.12.11', 'kernel/attach, kernel/interrupt and kernel/shutdown of an unknown id get KernelNotFound'),
	check('kernels.start', '6.12.6', 'kernel/start answers an idle Kernel with a 64-hex-digit key'),
	check('kernels.state-idle', '6.12.13', 'kernel/didChangeState reports the new kernel idle'),
	check('kernels.connect', '6.12.12', 'kernel/connect answers a token of the documented form and expiresInMs'),
	check('tunnel.handshake', '6.13', 'a tunnel selects ALPN spyder-remote-tunnel/1 and presents the session certificate'),
	check('tunnel.kernel-info', '6.13', 'through tunnels, kernel_info_request gets a signed kernel_info_reply on shell and status on IOPub'),
	check('tunnel.execute', '6.13', 'execute_request print(6*7) gets stream 42 on IOPub and execute_reply ok on shell'),
	check('kernels.state-busy', '6.12.13', 'running code sends kernel/didChangeState busy, then idle'),
	check('tunnel.single-use', '6.13', 'a used token and a forged token get the tunnel closed without a byte'),
	check('kernels.shutdown', '6.12.10', 'kernel/shutdown answers null after kernel/didExit and dead, and the kernel is gone'),
	check('placement.capabilities', '6.15.6', 'server/capabilities answers a valid ServerCapabilitiesResult'),
	check('placement.injection', '6.15.1', 'kernel/start refuses with InvalidParams a Slurm placement whose values would smuggle sbatch options'),

	check('auth.wrong-password', '5.1', 'a wrong password gets AuthenticationFailed, and requests pipelined behind it Unauthenticated'),
	check('auth.unknown-user', '5.1', 'an unknown user gets the same AuthenticationFailed answer as a wrong password'),
	check('auth.bad-signature', '5.3', 'auth/publicKey with a signature that does not verify gets AuthenticationFailed'),
];

export const checksById: ReadonlyMap<string, CheckDefinition> = new Map(checks.map((definition) => [definition.id, definition]));
