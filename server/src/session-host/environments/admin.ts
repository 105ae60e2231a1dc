import { lstat, realpath, rm, stat } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { ErrorCodes, type EnvironmentCreateParams, type EnvironmentInstallParams, type EnvironmentUninstallParams } from '@spyder-remote/protocol';
import { ResponseError } from 'vscode-jsonrpc/node';
import type { EnvironmentSettings } from '../../common/host-wire.js';
import { KeyedLock } from '../key-lock.js';
import { runTool, type ToolRun } from '../run-tool.js';
import type { EnvironmentCatalog } from './catalog.js';
import { expandHome } from './locations.js';
import type { ScannedEnvironment } from './scan.js';
import { condaArgs, condaFailure, findCondaTool, type CondaTool } from './tools.js';

/** Where a long operation reports: one line at a time, for `$/progress`. */
export interface OperationContext {
	readonly signal: AbortSignal;
	report(line: string): void;
}

const maxCondaOutput = 1024 * 1024;

/**
 * Creates, removes and changes environments, as the user. Operations on
 * one prefix run one at a time across every connection; a create that fails
 * or is cancelled leaves no prefix behind.
 */
export class EnvironmentAdmin {
	private readonly lock = new KeyedLock();

	constructor(
		private readonly settings: EnvironmentSettings,
		private readonly catalog: EnvironmentCatalog,
		private readonly uid: number,
	) {}

	/** Whether policy lets this user change the environment. System interpreters never qualify. */
	async manageable(environment: ScannedEnvironment): Promise<boolean> {
		if (environment.kind === 'system' || environment.broken || this.settings.administer === 'none') return false;
		if (this.settings.administer === 'writable') return environment.writable;
		return (
			environment.writable &&
			(await stat(environment.prefix).then(
				(info) => info.uid === this.uid,
				() => false,
			))
		);
	}

	async create(params: EnvironmentCreateParams, context: OperationContext): Promise<ScannedEnvironment> {
		if (!this.settings.create.includes(params.kind))
			throw new ResponseError(ErrorCodes.PermissionDenied, `creating ${params.kind} environments is not allowed on this server`);
		const prefix = params.kind === 'venv' ? join(this.venvRoot(), params.name) : join(this.catalog.home, '.conda', 'envs', params.name);
		return this.lock.run(prefix, async () => {
			if (
				await lstat(prefix).then(
					() => true,
					() => false,
				)
			)
				throw new ResponseError(ErrorCodes.EnvironmentExists, `${prefix} already exists`);
			try {
				if (params.kind === 'venv') {
					const python = params.python ?? this.settings.systemInterpreters[0];
					if (!python?.startsWith('/')) throw new ResponseError(ErrorCodes.InvalidParams, 'a venv needs the absolute path of a base interpreter');
					context.report(`creating venv ${prefix} from ${python}`);
					await this.check(
						await runTool(python, ['-m', 'venv', ...(params.systemSitePackages ? ['--system-site-packages'] : []), '--', prefix], toolOptions(context)),
						'python -m venv',
					);
					if (params.packages?.length)
						await this.check(await runTool(join(prefix, 'bin', 'python'), pipInstallArgs(params.packages), toolOptions(context)), 'pip install');
				} else {
					if (params.python?.startsWith('/'))
						throw new ResponseError(ErrorCodes.InvalidParams, 'a conda environment takes a Python version such as 3.11, not a path');
					const tool = await this.condaTool();
					const specs = [...(params.python ? [`python=${params.python}`] : []), ...(params.packages ?? [])];
					await this.runConda(tool, condaArgs('create', prefix, specs), context);
				}
			} catch (error) {
				// Half-made is worse than absent: the user can retry a create, not repair one.
				await rm(prefix, { recursive: true, force: true });
				throw error;
			}
			return this.refreshed(prefix);
		});
	}

	async remove(environment: ScannedEnvironment, context: OperationContext): Promise<void> {
		await this.requireManageable(environment);
		await this.lock.run(environment.prefix, async () => {
			context.report(`removing ${environment.prefix}`);
			const tool = environment.kind === 'conda' ? await findCondaTool(this.catalog.home) : undefined;
			if (tool) await this.runConda(tool, condaArgs('remove', environment.prefix, [], true), context);
			await rm(environment.prefix, { recursive: true, force: true });
			await this.catalog.refresh();
		});
	}

	async install(environment: ScannedEnvironment, params: EnvironmentInstallParams, context: OperationContext): Promise<ScannedEnvironment> {
		await this.requireManageable(environment);
		const installer = params.installer ?? (environment.kind === 'conda' ? 'conda' : 'pip');
		const packages = params.packages ?? [];
		const paths = await Promise.all((params.paths ?? []).map((path) => this.allowedPath(path)));
		if (packages.length + paths.length === 0) throw new ResponseError(ErrorCodes.InvalidParams, 'nothing to install: give packages or paths');
		if (installer === 'conda' && paths.length > 0) throw new ResponseError(ErrorCodes.InvalidParams, 'local paths install with pip only');
		return this.lock.run(environment.prefix, async () => {
			if (installer === 'pip') {
				await this.check(await runTool(environment.python, pipInstallArgs([...packages, ...paths]), toolOptions(context)), 'pip install');
			} else {
				const tool = await this.condaTool();
				await this.runConda(tool, condaArgs('install', environment.prefix, packages), context);
			}
			return this.refreshed(environment.prefix);
		});
	}

	async uninstall(environment: ScannedEnvironment, params: EnvironmentUninstallParams, context: OperationContext): Promise<ScannedEnvironment> {
		await this.requireManageable(environment);
		const installer = params.installer ?? (environment.kind === 'conda' ? 'conda' : 'pip');
		return this.lock.run(environment.prefix, async () => {
			if (installer === 'pip') {
				await this.check(
					await runTool(environment.python, ['-m', 'pip', 'uninstall', '--yes', '--', ...params.packages], toolOptions(context)),
					'pip uninstall',
				);
			} else {
				const tool = await this.condaTool();
				await this.runConda(tool, condaArgs('remove', environment.prefix, params.packages), context);
			}
			return this.refreshed(environment.prefix);
		});
	}

	private venvRoot(): string {
		const root = this.settings.venvRoots[0];
		if (!root) throw new ResponseError(ErrorCodes.PermissionDenied, 'no venv root is configured on this server');
		return expandHome(root, this.catalog.home);
	}

	private async requireManageable(environment: ScannedEnvironment): Promise<void> {
		if (!(await this.manageable(environment))) {
			throw new ResponseError(
				ErrorCodes.PermissionDenied,
				`${environment.name} (${environment.prefix}) cannot be changed by this user under the server's policy (${this.settings.administer})`,
			);
		}
	}

	/** A local package path must resolve, symlinks followed, to somewhere below an allowed root. */
	private async allowedPath(path: string): Promise<string> {
		const real = await realpath(path).catch(() => {
			throw new ResponseError(ErrorCodes.InvalidParams, `${path} does not exist`);
		});
		// A configured root that does not exist allows nothing, as if it were not listed.
		const roots = await Promise.all(this.settings.allowedPathRoots.map((root) => realpath(expandHome(root, this.catalog.home)).catch(() => undefined)));
		if (!roots.some((root) => root !== undefined && (real === root || real.startsWith(root.endsWith(sep) ? root : root + sep)))) {
			throw new ResponseError(
				ErrorCodes.PathNotAllowed,
				`${path} is outside the directories packages may be installed from (${this.settings.allowedPathRoots.join(', ')})`,
			);
		}
		return real;
	}

	private async condaTool(): Promise<CondaTool> {
		const tool = await findCondaTool(this.catalog.home);
		if (!tool) throw new ResponseError(ErrorCodes.ToolUnavailable, 'no conda, mamba or micromamba was found on this server');
		return tool;
	}

	private async runConda(tool: CondaTool, args: readonly string[], context: OperationContext): Promise<void> {
		let output = '';
		const run = await runTool(tool.path, args, {
			...toolOptions(context),
			onLine: (line) => {
				if (output.length < maxCondaOutput) output += `${line}\n`;
				context.report(line);
			},
		});
		if (run.cancelled) throw cancelled();
		const failure = condaFailure(output);
		if (run.exitCode !== 0 || failure) {
			throw new ResponseError(ErrorCodes.ToolFailed, `${tool.flavour} ${args[0]} failed: ${failure ?? `exit code ${run.exitCode}`}`, {
				exitCode: run.exitCode,
				tail: run.tail,
			});
		}
	}

	private async check(run: ToolRun, what: string): Promise<void> {
		if (run.cancelled) throw cancelled();
		if (run.exitCode !== 0) {
			throw new ResponseError(ErrorCodes.ToolFailed, `${what} failed (exit code ${run.exitCode ?? run.signal}): ${run.tail.at(-1) ?? 'no output'}`, {
				exitCode: run.exitCode,
				tail: run.tail,
			});
		}
	}

	private async refreshed(prefix: string): Promise<ScannedEnvironment> {
		const real = await realpath(prefix).catch(() => prefix);
		const environments = await this.catalog.refresh();
		const environment = environments.find((candidate) => candidate.prefix === prefix || candidate.prefix === real);
		if (!environment) throw new ResponseError(ErrorCodes.InternalError, `${prefix} was made but is not listed; check the server's environment settings`);
		return environment;
	}
}

function pipInstallArgs(requirements: readonly string[]): string[] {
	return ['-m', 'pip', 'install', '--no-input', '--progress-bar', 'off', '--', ...requirements];
}

/** Tools run from `/`, so that nothing relative in their arguments can name a file in the user's home. */
function toolOptions(context: OperationContext) {
	return { signal: context.signal, cwd: '/', onLine: (line: string) => context.report(line) };
}

function cancelled(): ResponseError<void> {
	return new ResponseError(ErrorCodes.RequestCancelled, 'cancelled: the tool and its children were stopped');
}
