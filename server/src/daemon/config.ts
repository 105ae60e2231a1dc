import { readFile } from 'node:fs/promises';
import { homedir, tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_PORT, Type, validate, type Static } from '@spyder-remote/protocol';
import { EnvironmentSettingsSchema, SlurmSettingsSchema, WarmPoolEntrySchema } from '../common/host-wire.js';
import { runsAsRoot } from '../common/privilege.js';

const Seconds = (description: string, minimum = 1) => Type.Integer({ minimum, maximum: 86_400, description });

const AccountNames = (description: string) =>
	Type.Array(Type.String({ minLength: 1, maxLength: 256, pattern: '^[^\\u0000:\\s]+$' }), { maxItems: 1024, description });

export const ConfigSchema = Type.Object(
	{
		mode: Type.Union([Type.Literal('auto'), Type.Literal('system'), Type.Literal('personal')], {
			description: "'system' serves every OS user and must run as root; 'personal' serves only the account it runs as; 'auto' picks by the effective uid.",
		}),
		listen: Type.Object(
			{
				host: Type.String({ minLength: 1, maxLength: 255, description: 'Address to listen on.' }),
				port: Type.Integer({ minimum: 0, maximum: 65_535, description: '0 picks a free port.' }),
			},
			{ additionalProperties: false },
		),
		stateDir: Type.String({ minLength: 1, description: 'Certificate and key live here.' }),
		runtimeDir: Type.String({ minLength: 1, description: "Session hosts' sockets live here." }),
		tls: Type.Object(
			{
				certFile: Type.Optional(Type.String({ minLength: 1, description: 'PEM certificate (chain); default: a self-signed one in stateDir.' })),
				keyFile: Type.Optional(Type.String({ minLength: 1, description: 'PEM private key matching certFile.' })),
				hostnames: Type.Array(Type.String({ minLength: 1, maxLength: 255 }), {
					maxItems: 64,
					description: 'Extra DNS names or IP addresses for a generated certificate.',
				}),
			},
			{ additionalProperties: false },
		),
		limits: Type.Object(
			{
				maxMessageBytes: Type.Integer({ minimum: 1024, maximum: 1024 * 1024 * 1024 }),
				maxHeaderBytes: Type.Integer({ minimum: 64, maximum: 1024 * 1024 }),
				maxNestingDepth: Type.Integer({
					minimum: 1,
					maximum: 100_000,
					description: 'Deepest nesting of arrays and objects in a message after login, checked before it is parsed.',
				}),
				maxPreLoginMessageBytes: Type.Integer({
					minimum: 1024,
					maximum: 16 * 1024 * 1024,
					description: 'The largest Content-Length accepted before login (at most maxMessageBytes).',
				}),
				maxPreLoginQueueBytes: Type.Integer({
					minimum: 1024,
					maximum: 1024 * 1024 * 1024,
					description: 'Bytes one unauthenticated connection may have waiting; past this the daemon stops reading it until they are served.',
				}),
				maxPreLoginTotalBytes: Type.Integer({
					minimum: 1024,
					maximum: 16 * 1024 * 1024 * 1024,
					description: 'Bytes all unauthenticated connections together may have waiting; past this, a connection holding more than one frame is closed.',
				}),
			},
			{ additionalProperties: false },
		),
		auth: Type.Object(
			{
				methods: Type.Array(Type.Union([Type.Literal('password'), Type.Literal('publicKey')]), { minItems: 1, uniqueItems: true }),
				pamService: Type.String({ pattern: '^[A-Za-z0-9._-]{1,64}$', description: "Falls back to 'other' when /etc/pam.d has no such file." }),
				loginGraceTime: Seconds('An unauthenticated connection is closed after this many seconds (OpenSSH LoginGraceTime).'),
				maxStartups: Type.String({
					pattern: '^\\d{1,5}(:\\d{1,3}:\\d{1,5})?$',
					description: "start:rate:full, as OpenSSH's MaxStartups: at most `start` connections are being logged in at once.",
				}),
				startupQueue: Type.Boolean({
					description: 'Connections beyond maxStartups `start` wait for a slot, up to `full` (true), or are dropped at random as by sshd (false).',
				}),
				perSourceMaxStartups: Type.Union([Type.Integer({ minimum: 1, maximum: 100_000 }), Type.Literal('none')], {
					description: 'Unauthenticated connections allowed per source net block (OpenSSH PerSourceMaxStartups).',
				}),
				perSourceNetBlockSize: Type.String({
					pattern: '^([0-9]|[12][0-9]|3[0-2])(:([0-9]|[1-9][0-9]|1[01][0-9]|12[0-8]))?$',
					description: 'IPv4:IPv6 prefix lengths that group addresses into one source (OpenSSH PerSourceNetBlockSize).',
				}),
				perSourcePenalties: Type.String({
					pattern: '^(yes|no|(authfail|noauth|grace-exceeded|min|max|max-sources):\\d{1,6}( (authfail|noauth|grace-exceeded|min|max|max-sources):\\d{1,6})*)$',
					description: "'yes' (the defaults), 'no', or name:seconds pairs overriding them, as OpenSSH's PerSourcePenalties.",
				}),
				perSourceExempt: Type.Array(Type.String({ pattern: '^[0-9A-Fa-f:.]{2,45}(/\\d{1,3})?$' }), {
					maxItems: 256,
					description: 'Addresses and CIDR blocks the per-source limits do not apply to.',
				}),
				maxAuthTries: Type.Integer({ minimum: 1, maximum: 100, description: 'Failed logins allowed on one connection.' }),
				failureDelayMs: Type.Integer({
					minimum: 0,
					maximum: 60_000,
					description: 'First delay after a failure, doubled per further failure from the same source or for the same user.',
				}),
				maxFailureDelayMs: Type.Integer({ minimum: 0, maximum: 600_000 }),
				permitRoot: Type.Boolean({ description: 'Whether uid 0 may log in.' }),
				permitNoShell: Type.Boolean({ description: 'Whether accounts whose login shell is missing, not in /etc/shells, or nologin/false may log in.' }),
				allowUsers: AccountNames('If not empty, only these users may log in (OpenSSH AllowUsers; exact names).'),
				denyUsers: AccountNames('These users may not log in (OpenSSH DenyUsers; checked first).'),
				allowGroups: AccountNames('If not empty, only members of one of these groups, primary or supplementary, may log in (OpenSSH AllowGroups).'),
				denyGroups: AccountNames('Members of any of these groups, primary or supplementary, may not log in (OpenSSH DenyGroups).'),
				bannerFile: Type.Optional(
					Type.String({
						minLength: 1,
						maxLength: 4096,
						description: 'A text file (at most 8 KiB) read once at start and sent to clients before login in the initialize result.',
					}),
				),
			},
			{ additionalProperties: false },
		),
		sessionHost: Type.Object(
			{
				idleTimeout: Seconds('A session host with no connection exits after this many seconds.', 0),
				startTimeout: Seconds('How long a session host may take to start.'),
			},
			{ additionalProperties: false },
		),
		discovery: Type.Object(
			{
				enabled: Type.Boolean({ description: 'Announce the server with mDNS/DNS-SD (_spyder-remote._tcp).' }),
				instanceName: Type.Optional(
					Type.String({
						minLength: 1,
						maxLength: 63,
						pattern: '^[^.\\u0000-\\u001f\\u007f]+$',
						description: 'The name clients list; default: the host name. No dots.',
					}),
				),
				interfaces: Type.Optional(
					Type.Array(Type.String({ minLength: 1, maxLength: 64 }), {
						minItems: 1,
						maxItems: 64,
						description: 'Interface names or addresses to announce on; default: every non-internal interface.',
					}),
				),
				user: Type.String({ pattern: '^[A-Za-z0-9._][A-Za-z0-9._-]{0,63}$', description: 'System mode: the unprivileged account the mDNS responder runs as.' }),
			},
			{ additionalProperties: false },
		),
		logLevel: Type.Union(['fatal', 'error', 'warn', 'info', 'debug', 'trace'].map((level) => Type.Literal(level))),
		environments: EnvironmentSettingsSchema,
		kernels: Type.Object(
			{
				lease: Seconds("Kernels outlive the user's last connection by this many seconds, then are shut down."),
				warmPool: Type.Array(WarmPoolEntrySchema, {
					maxItems: 8,
					description:
						"Kernels each logged-in user's session host keeps started ahead of time, one per entry naming one of that user's environments; kernel/start with default cwd and env takes one at once. Empty (the default) turns the pool off.",
				}),
			},
			{ additionalProperties: false },
		),
		slurm: SlurmSettingsSchema,
	},
	{ additionalProperties: false },
);
export type ServerConfig = Static<typeof ConfigSchema>;

type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? (T[K] extends unknown[] ? T[K] : DeepPartial<T[K]>) : T[K] };
export type ConfigOverrides = DeepPartial<ServerConfig>;

export function isSystemMode(config: ServerConfig): boolean {
	return config.mode === 'system' || (config.mode === 'auto' && runsAsRoot());
}

/** The documented defaults; paths depend on whether the server runs for the whole system or for one user. */
export function defaultConfig(system = runsAsRoot()): ServerConfig {
	const xdgState = process.env.XDG_STATE_HOME || join(homedir(), '.local', 'state');
	const runtime = process.env.XDG_RUNTIME_DIR ? join(process.env.XDG_RUNTIME_DIR, 'spyder-remote') : join(tmpdir(), `spyder-remote-${userInfo().uid}`);
	return {
		mode: 'auto',
		listen: { host: '0.0.0.0', port: DEFAULT_PORT },
		stateDir: system ? '/var/lib/spyder-remote' : join(xdgState, 'spyder-remote'),
		runtimeDir: system ? '/run/spyder-remote' : runtime,
		tls: { hostnames: [] },
		limits: {
			maxMessageBytes: 16 * 1024 * 1024,
			maxHeaderBytes: 8 * 1024,
			maxNestingDepth: 256,
			maxPreLoginMessageBytes: 64 * 1024,
			maxPreLoginQueueBytes: 1024 * 1024,
			maxPreLoginTotalBytes: 64 * 1024 * 1024,
		},
		auth: {
			methods: ['password', 'publicKey'],
			pamService: 'spyder-remote',
			loginGraceTime: 60,
			maxStartups: '64:30:1000',
			startupQueue: true,
			perSourceMaxStartups: 10,
			perSourceNetBlockSize: '32:64',
			perSourcePenalties: 'yes',
			perSourceExempt: ['127.0.0.1', '::1'],
			maxAuthTries: 6,
			failureDelayMs: 1000,
			maxFailureDelayMs: 30_000,
			permitRoot: false,
			permitNoShell: false,
			allowUsers: [],
			denyUsers: [],
			allowGroups: [],
			denyGroups: [],
		},
		sessionHost: { idleTimeout: 300, startTimeout: 15 },
		discovery: { enabled: true, user: 'nobody' },
		logLevel: 'info',
		kernels: { lease: 4 * 3600, warmPool: [] },
		slurm: { enabled: true, extraOptions: [], jobName: 'spyder-kernel', output: '/dev/null' },
		environments: {
			venvRoots: ['~/.virtualenvs', '~/venvs', '~/.venvs'],
			extraPaths: [],
			systemInterpreters: ['/usr/bin/python3'],
			administer: 'owned',
			create: ['venv', 'conda'],
			allowedPathRoots: ['~'],
		},
	};
}

export class ConfigError extends Error {
	override name = 'ConfigError';
}

function merge(base: unknown, overrides: unknown): unknown {
	if (typeof base !== 'object' || base === null || Array.isArray(base) || typeof overrides !== 'object' || overrides === null || Array.isArray(overrides)) {
		return overrides === undefined ? base : overrides;
	}
	const merged: Record<string, unknown> = { ...(base as Record<string, unknown>) };
	for (const [key, value] of Object.entries(overrides)) merged[key] = merge(merged[key], value);
	return merged;
}

/** Layers overrides over the defaults and validates the result; errors name the offending key. */
export function resolveConfig(...layers: unknown[]): ServerConfig {
	const candidate = layers.reduce<unknown>((config, layer) => merge(config, layer), defaultConfig());
	const problem = validate(ConfigSchema, candidate);
	if (problem) {
		const [path, ...message] = problem.split(': ');
		const key = path!.replace(/^\//, '').replaceAll('/', '.') || '(top level)';
		throw new ConfigError(`config key ${key}: ${message.join(': ')}`);
	}
	return candidate as ServerConfig;
}

export async function loadConfigFile(file: string): Promise<unknown> {
	let text: string;
	try {
		text = await readFile(file, 'utf8');
	} catch (error) {
		throw new ConfigError(`cannot read config file ${file}: ${(error as Error).message}`);
	}
	try {
		return JSON.parse(text);
	} catch (error) {
		throw new ConfigError(`config file ${file} is not valid JSON: ${(error as Error).message}`);
	}
}
