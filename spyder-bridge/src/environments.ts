import type { Environment } from '@spyder-remote/protocol';
import type { CancellationToken, MessageConnection } from 'vscode-jsonrpc/node';
import { environmentView } from './compatibility.js';
import {
	EnvironmentDidChangeNotification,
	OperationProgressNotification,
	type EnvironmentCreateParams,
	type EnvironmentPackagesParams,
	type EnvironmentView,
	type OperationProgressParams,
} from './protocol/main.js';
import type { BridgeSession, Sessions } from './sessions.js';

type ProgressValue =
	| { kind: 'begin'; title: string; message?: string; percentage?: number }
	| { kind: 'report'; message?: string; percentage?: number }
	| { kind: 'end'; message?: string };

/** Environments as this Spyder sees them, and the long operations on them with their progress. */
export class Environments {
	private readonly subscribed = new WeakSet<BridgeSession>();

	constructor(
		private readonly plugin: MessageConnection,
		private readonly sessions: Sessions,
		private readonly spyder: { readonly version: string; readonly range: string },
	) {}

	view(environment: Environment): EnvironmentView {
		return environmentView(environment, this.spyder.version, this.spyder.range);
	}

	/** Passes `environment/didChange` on to the plugin, once per session. */
	watch(session: BridgeSession): void {
		if (this.subscribed.has(session)) return;
		this.subscribed.add(session);
		session.remote.onEnvironmentsChanged((change) => {
			void this.plugin.sendNotification(EnvironmentDidChangeNotification.type, {
				session: session.id,
				added: change.added.map((environment) => this.view(environment)),
				changed: change.changed.map((environment) => this.view(environment)),
				removed: change.removed,
			});
		});
	}

	async list(session: BridgeSession, refresh: boolean): Promise<EnvironmentView[]> {
		const environments = await this.sessions.call(session, () => session.remote.listEnvironments({ spyderKernelsRange: this.spyder.range, refresh }));
		return environments.map((environment) => this.view(environment));
	}

	async packages(session: BridgeSession, id: string) {
		return this.sessions.call(session, () => session.remote.listPackages(id));
	}

	async create(session: BridgeSession, params: EnvironmentCreateParams, token: CancellationToken): Promise<EnvironmentView> {
		const { name, kind, python, packages, systemSitePackages } = params;
		const request = {
			name,
			kind,
			...(python ? { python } : {}),
			...(packages?.length ? { packages: [...packages] } : {}),
			...(systemSitePackages ? { systemSitePackages } : {}),
		};
		return this.view(await this.operation(session, params.operation, token, (options) => session.remote.createEnvironment(request, options)));
	}

	async remove(session: BridgeSession, id: string, operation: string | undefined, token: CancellationToken): Promise<void> {
		await this.operation(session, operation, token, (options) => session.remote.removeEnvironment(id, options));
	}

	async install(session: BridgeSession, params: EnvironmentPackagesParams, token: CancellationToken): Promise<EnvironmentView> {
		return this.view(
			await this.operation(session, params.operation, token, (options) =>
				session.remote.installPackages({ id: params.id, packages: [...params.packages] }, options),
			),
		);
	}

	async uninstall(session: BridgeSession, params: EnvironmentPackagesParams, token: CancellationToken): Promise<EnvironmentView> {
		return this.view(
			await this.operation(session, params.operation, token, (options) =>
				session.remote.uninstallPackages({ id: params.id, packages: [...params.packages] }, options),
			),
		);
	}

	/** Runs a long request: its work-done progress becomes `operation/progress`, the plugin's `$/cancelRequest` aborts it. */
	private async operation<T>(
		session: BridgeSession,
		operation: string | undefined,
		token: CancellationToken,
		run: (options: { onProgress?: (value: ProgressValue) => void; signal: AbortSignal }) => Promise<T>,
	): Promise<T> {
		const abort = new AbortController();
		const cancelled = token.onCancellationRequested(() => abort.abort());
		const onProgress = operation
			? (value: ProgressValue) => {
					const params: OperationProgressParams = { operation, ...value };
					void this.plugin.sendNotification(OperationProgressNotification.type, params);
				}
			: undefined;
		try {
			return await this.sessions.call(session, () => run({ ...(onProgress ? { onProgress } : {}), signal: abort.signal }));
		} finally {
			cancelled.dispose();
		}
	}
}
