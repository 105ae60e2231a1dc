import { ProtocolNotificationType, ProtocolRequestType } from 'vscode-languageserver-protocol';
import { ErrorCodes } from './errors.js';
import { MessageDirection, type MessageMeta } from './messages.js';
import { Type, type Static } from './schema.js';

export const EnvironmentId = Type.String({ pattern: '^[0-9a-f]{16}$', description: 'Stable id of an environment: derived from its real prefix path.' });

export const EnvironmentKind = Type.Union([Type.Literal('conda'), Type.Literal('venv'), Type.Literal('pyenv'), Type.Literal('system')]);
export type EnvironmentKind = Static<typeof EnvironmentKind>;

/** A name for a new environment: one path component, never an option, never hidden. */
export const EnvironmentName = Type.String({
	pattern: '^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$',
	description: 'Letters, digits and . _ + -, starting with a letter or digit, at most 64 characters.',
});

/**
 * A requirement as pip or conda take it: a project name, optional extras, optional
 * version clauses. No paths, URLs, options or shell syntax can pass this.
 */
export const PackageSpec = Type.String({
	maxLength: 200,
	// The lookahead refuses archive names: pip would read `x-1.0-py3-none-any.whl` as a file path.
	pattern:
		'^(?!.*\\.(whl|zip|tar|gz|tgz|bz2|xz|conda|egg)$)[A-Za-z0-9][A-Za-z0-9._-]*(\\[[A-Za-z0-9._,-]+\\])?((===|==|>=|<=|~=|!=|=|<|>)[A-Za-z0-9.*+!_-]+(,(===|==|>=|<=|~=|!=|=|<|>)[A-Za-z0-9.*+!_-]+)*)?$',
});
export const PackageName = Type.String({ maxLength: 200, pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$' });

export const LocalPath = Type.String({
	minLength: 2,
	maxLength: 4096,
	pattern: '^/[^\\x00]*$',
	description: "An absolute path on the server, inside the roots the server allows (the user's home by default).",
});

export const VersionRange = Type.String({
	maxLength: 100,
	pattern: '^\\s*(==|>=|<=|!=|<|>)\\s*[0-9][0-9A-Za-z.+!-]*\\s*(,\\s*(==|>=|<=|!=|<|>)\\s*[0-9][0-9A-Za-z.+!-]*\\s*)*$',
	description: 'Comma-separated clauses with ==, !=, >=, >, <=, < and plain versions (no wildcards, no ~=), e.g. `>=2.4.0,<2.5.0`.',
});

const WorkDoneToken = Type.Optional(
	Type.Union([Type.Integer(), Type.String({ maxLength: 256 })], {
		description: 'LSP work-done token: progress for this request is reported with `$/progress` under it.',
	}),
);

export const Environment = Type.Object({
	id: EnvironmentId,
	name: Type.String(),
	kind: EnvironmentKind,
	prefix: Type.String(),
	python: Type.String({ description: 'The interpreter a kernel in this environment runs.' }),
	pythonVersion: Type.Optional(Type.String()),
	spyderKernels: Type.Optional(Type.String({ description: 'Installed spyder-kernels version.' })),
	ipykernel: Type.Boolean(),
	writable: Type.Boolean({ description: 'The user can write to the prefix.' }),
	manageable: Type.Boolean({
		description: 'Server policy lets the user install into or remove this environment. Never true for system interpreters or broken environments.',
	}),
	compatible: Type.Optional(
		Type.Object(
			{ ok: Type.Boolean(), reason: Type.Optional(Type.String()) },
			{ description: 'Against the spyderKernelsRange of the last `environment/list` on this connection.' },
		),
	),
	broken: Type.Optional(Type.String({ description: 'Why the environment cannot be used, e.g. a dangling python symlink.' })),
});
export type Environment = Static<typeof Environment>;

export const EnvironmentListParams = Type.Object({
	spyderKernelsRange: Type.Optional(VersionRange),
	refresh: Type.Optional(Type.Boolean({ description: 'Rescan instead of answering from the cache.' })),
});
export type EnvironmentListParams = Static<typeof EnvironmentListParams>;
export const EnvironmentListResult = Type.Object({ environments: Type.Array(Environment) });
export type EnvironmentListResult = Static<typeof EnvironmentListResult>;

const since = '0.1.0';

/** Every Python environment of the logged-in user on the server. */
export namespace EnvironmentListRequest {
	export const method = 'environment/list';
	export const messageDirection = MessageDirection.clientToServer;
	export const params = EnvironmentListParams;
	export const result = EnvironmentListResult;
	export const type = new ProtocolRequestType<EnvironmentListParams, EnvironmentListResult, never, void, void>(method);
	export const meta: MessageMeta = {
		since,
		requiresLogin: true,
		errors: [],
		documentation:
			'Found from metadata, without running any interpreter: conda prefixes (environments.txt, .condarc envs_dirs, the usual base roots; a prefix counts only with conda-meta/history), venvs under the configured roots, pyenv versions, system interpreters and configured extra paths. ' +
			'Broken environments are listed with `broken` set; they never fail the list.',
	};
}

export const EnvironmentDidChangeParams = Type.Object({
	added: Type.Array(Environment),
	changed: Type.Array(Environment),
	removed: Type.Array(EnvironmentId),
});
export type EnvironmentDidChangeParams = Static<typeof EnvironmentDidChangeParams>;

/** Environments appeared, disappeared or changed (packages included). */
export namespace EnvironmentDidChangeNotification {
	export const method = 'environment/didChange';
	export const messageDirection = MessageDirection.serverToClient;
	export const params = EnvironmentDidChangeParams;
	export const type = new ProtocolNotificationType<EnvironmentDidChangeParams, void>(method);
	export const meta: MessageMeta = {
		since,
		requiresLogin: true,
		errors: [],
		documentation: 'Sent to every connection of the user within a second of the change, whoever made it: another client, a terminal, a package manager.',
	};
}

export const EnvironmentCreateParams = Type.Object({
	name: EnvironmentName,
	kind: Type.Union([Type.Literal('venv'), Type.Literal('conda')]),
	python: Type.Optional(
		Type.String({
			maxLength: 4096,
			pattern: '^(/[^\\x00]*|[0-9]+(\\.[0-9]+){0,2})$',
			description: 'venv: absolute path of the base interpreter (default: the first system interpreter). conda: a Python version such as `3.11`.',
		}),
	),
	systemSitePackages: Type.Optional(Type.Boolean({ description: "venv only: see the base interpreter's packages." })),
	packages: Type.Optional(Type.Array(PackageSpec, { maxItems: 100 })),
	workDoneToken: WorkDoneToken,
});
export type EnvironmentCreateParams = Static<typeof EnvironmentCreateParams>;
export const EnvironmentResult = Type.Object({ environment: Environment });
export type EnvironmentResult = Static<typeof EnvironmentResult>;

const changeErrors = [
	ErrorCodes.EnvironmentNotFound,
	ErrorCodes.PermissionDenied,
	ErrorCodes.ToolFailed,
	ErrorCodes.ToolUnavailable,
	ErrorCodes.RequestCancelled,
];

/** Creates a venv (`python -m venv`) or a conda environment (conda, mamba or micromamba). */
export namespace EnvironmentCreateRequest {
	export const method = 'environment/create';
	export const messageDirection = MessageDirection.clientToServer;
	export const params = EnvironmentCreateParams;
	export const result = EnvironmentResult;
	export const type = new ProtocolRequestType<EnvironmentCreateParams, EnvironmentResult, never, void, void>(method);
	export const meta: MessageMeta = {
		since,
		requiresLogin: true,
		progress: true,
		cancellable: true,
		errors: [ErrorCodes.PermissionDenied, ErrorCodes.ToolFailed, ErrorCodes.ToolUnavailable, ErrorCodes.RequestCancelled, ErrorCodes.EnvironmentExists],
		documentation:
			'venvs are made in the first configured venv root, conda environments in ~/.conda/envs. ' +
			'Cancelled or failed half way, the half-made prefix is removed: a create either completes or leaves nothing.',
	};
}

export const EnvironmentIdParams = Type.Object({ id: EnvironmentId, workDoneToken: WorkDoneToken });
export type EnvironmentIdParams = Static<typeof EnvironmentIdParams>;

/** Deletes an environment's prefix. */
export namespace EnvironmentRemoveRequest {
	export const method = 'environment/remove';
	export const messageDirection = MessageDirection.clientToServer;
	export const params = EnvironmentIdParams;
	export const result = Type.Null();
	export const type = new ProtocolRequestType<EnvironmentIdParams, null, never, void, void>(method);
	export const meta: MessageMeta = {
		since,
		requiresLogin: true,
		progress: true,
		errors: [ErrorCodes.EnvironmentNotFound, ErrorCodes.PermissionDenied, ErrorCodes.ToolFailed],
		documentation:
			'Only environments the policy lets the user manage (`manageable`). Not cancellable: a half-removed environment is worse than either state. A conda environment is removed with the conda tool when the host has one, else its prefix is deleted.',
	};
}

export const InstalledPackage = Type.Object({
	name: Type.String(),
	version: Type.String(),
	installer: Type.Union([Type.Literal('pip'), Type.Literal('conda')]),
});
export type InstalledPackage = Static<typeof InstalledPackage>;
export const EnvironmentPackagesResult = Type.Object({ packages: Type.Array(InstalledPackage) });
export type EnvironmentPackagesResult = Static<typeof EnvironmentPackagesResult>;

/** The packages installed in an environment, from metadata. */
export namespace EnvironmentPackagesRequest {
	export const method = 'environment/packages';
	export const messageDirection = MessageDirection.clientToServer;
	export const params = EnvironmentIdParams;
	export const result = EnvironmentPackagesResult;
	export const type = new ProtocolRequestType<EnvironmentIdParams, EnvironmentPackagesResult, never, void, void>(method);
	export const meta: MessageMeta = {
		since,
		requiresLogin: true,
		errors: [ErrorCodes.EnvironmentNotFound],
		documentation:
			"What the environment's interpreter can import, from metadata: conda records (conda-meta) and Python distributions (*.dist-info, *.egg-info) on its sys.path (the user's site directory and, for venvs with system site packages, the base interpreter's included), sorted by name.",
	};
}

export const Installer = Type.Union([Type.Literal('pip'), Type.Literal('conda')], {
	description: 'Default: pip in venvs, pyenv and system environments; conda (or mamba, micromamba) in conda environments.',
});

export const EnvironmentInstallParams = Type.Object({
	id: EnvironmentId,
	packages: Type.Optional(Type.Array(PackageSpec, { maxItems: 100 })),
	paths: Type.Optional(Type.Array(LocalPath, { maxItems: 20, description: 'Local wheels, sdists or project directories (pip only).' })),
	installer: Type.Optional(Installer),
	workDoneToken: WorkDoneToken,
});
export type EnvironmentInstallParams = Static<typeof EnvironmentInstallParams>;

/** Installs packages into an environment. */
export namespace EnvironmentInstallRequest {
	export const method = 'environment/install';
	export const messageDirection = MessageDirection.clientToServer;
	export const params = EnvironmentInstallParams;
	export const result = EnvironmentResult;
	export const type = new ProtocolRequestType<EnvironmentInstallParams, EnvironmentResult, never, void, void>(method);
	export const meta: MessageMeta = {
		since,
		requiresLogin: true,
		progress: true,
		cancellable: true,
		errors: [...changeErrors, ErrorCodes.PathNotAllowed],
		documentation:
			'Operations on one environment run one at a time, in arrival order, across all connections of the user. ' +
			"Cancelling kills the installer's whole process group; what the installer had completed stays (pip and conda make each package's install atomic, not the set).",
	};
}

export const EnvironmentUninstallParams = Type.Object({
	id: EnvironmentId,
	packages: Type.Array(PackageName, { minItems: 1, maxItems: 100 }),
	installer: Type.Optional(Installer),
	workDoneToken: WorkDoneToken,
});
export type EnvironmentUninstallParams = Static<typeof EnvironmentUninstallParams>;

/** Uninstalls packages from an environment. */
export namespace EnvironmentUninstallRequest {
	export const method = 'environment/uninstall';
	export const messageDirection = MessageDirection.clientToServer;
	export const params = EnvironmentUninstallParams;
	export const result = EnvironmentResult;
	export const type = new ProtocolRequestType<EnvironmentUninstallParams, EnvironmentResult, never, void, void>(method);
	export const meta: MessageMeta = {
		since,
		requiresLogin: true,
		progress: true,
		cancellable: true,
		errors: changeErrors,
		documentation: 'As `environment/install`, in reverse.',
	};
}
