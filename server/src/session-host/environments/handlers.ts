import {
	EnvironmentCreateRequest,
	EnvironmentDidChangeNotification,
	EnvironmentInstallRequest,
	EnvironmentListRequest,
	EnvironmentPackagesRequest,
	EnvironmentRemoveRequest,
	EnvironmentUninstallRequest,
	ErrorCodes,
	type Environment,
	type EnvironmentCreateParams,
	type EnvironmentIdParams,
	type EnvironmentInstallParams,
	type EnvironmentListParams,
	type EnvironmentUninstallParams,
} from '@spyder-remote/protocol';
import { ResponseError } from 'vscode-jsonrpc/node';
import type { ClientSession, Handler, RequestContext, SessionServices } from '../session.js';
import type { OperationContext } from './admin.js';
import type { CatalogChange } from './catalog.js';
import { checkCompatibility, type ScannedEnvironment } from './scan.js';
import { listPackages } from './scan/packages.js';
import { parseVersionRange } from './version-range.js';

/** The protocol's view of an environment, for one connection's spyder-kernels range. */
async function describe(environment: ScannedEnvironment, services: SessionServices, range: string | undefined): Promise<Environment> {
	const { packageSources: _sources, packagesDigest: _digest, compatible: _unused, ...visible } = environment;
	return {
		...visible,
		manageable: await services.admin.manageable(environment),
		...(range ? { compatible: checkCompatibility(parseVersionRange(range), environment.spyderKernels, environment.broken) } : {}),
	};
}

async function lookUp(services: SessionServices, id: string): Promise<ScannedEnvironment> {
	const environment = await services.catalog.find(id);
	if (!environment) throw new ResponseError(ErrorCodes.EnvironmentNotFound, `no environment with id ${id}`);
	return environment;
}

/** Runs a long operation under `$/progress`, begin to end, whether it succeeds or fails. */
async function withProgress<T>(request: RequestContext, title: string, cancellable: boolean, operation: (context: OperationContext) => Promise<T>): Promise<T> {
	request.progress.begin(title, cancellable);
	try {
		const result = await operation({ signal: request.signal, report: (line) => request.progress.report(line) });
		request.progress.end(`${title}: done`);
		return result;
	} catch (error) {
		request.progress.end(`${title}: ${(error as Error).message}`);
		throw error;
	}
}

export const environmentHandlers: [string, Handler][] = [
	[
		EnvironmentListRequest.method,
		async (params: EnvironmentListParams, { session }) => {
			if (params.spyderKernelsRange !== undefined) {
				try {
					parseVersionRange(params.spyderKernelsRange);
				} catch (error) {
					throw new ResponseError(ErrorCodes.InvalidParams, `spyderKernelsRange: ${(error as Error).message}`);
				}
			}
			session.spyderKernelsRange = params.spyderKernelsRange;
			const environments = await session.services.catalog.list(params.refresh === true);
			return { environments: await Promise.all(environments.map((environment) => describe(environment, session.services, params.spyderKernelsRange))) };
		},
	],
	[
		EnvironmentCreateRequest.method,
		async (params: EnvironmentCreateParams, request) => {
			const services = request.session.services;
			const created = await withProgress(request, `Creating ${params.kind} ${params.name}`, true, (context) => services.admin.create(params, context));
			return { environment: await describe(created, services, request.session.spyderKernelsRange) };
		},
	],
	[
		EnvironmentRemoveRequest.method,
		async (params: EnvironmentIdParams, request) => {
			const environment = await lookUp(request.session.services, params.id);
			// Not cancellable: the operation gets a signal that never fires.
			const uncancellable = { ...request, signal: new AbortController().signal };
			await withProgress(uncancellable, `Removing ${environment.name}`, false, (context) => request.session.services.admin.remove(environment, context));
			return null;
		},
	],
	[
		EnvironmentPackagesRequest.method,
		async (params: EnvironmentIdParams, { session }) => ({ packages: await listPackages(await lookUp(session.services, params.id)) }),
	],
	[
		EnvironmentInstallRequest.method,
		async (params: EnvironmentInstallParams, request) => {
			const services = request.session.services;
			const environment = await lookUp(services, params.id);
			const changed = await withProgress(request, `Installing into ${environment.name}`, true, (context) =>
				services.admin.install(environment, params, context),
			);
			return { environment: await describe(changed, services, request.session.spyderKernelsRange) };
		},
	],
	[
		EnvironmentUninstallRequest.method,
		async (params: EnvironmentUninstallParams, request) => {
			const services = request.session.services;
			const environment = await lookUp(services, params.id);
			const changed = await withProgress(request, `Uninstalling from ${environment.name}`, true, (context) =>
				services.admin.uninstall(environment, params, context),
			);
			return { environment: await describe(changed, services, request.session.spyderKernelsRange) };
		},
	],
];

/** Tells every connection of the user what changed, each with its own compatibility range. */
export function broadcastChanges(services: SessionServices): (change: CatalogChange) => void {
	return (change) => {
		for (const session of services.sessions) void notify(session, change);
	};
}

async function notify(session: ClientSession, change: CatalogChange): Promise<void> {
	try {
		const view = (environments: readonly ScannedEnvironment[]) =>
			Promise.all(environments.map((environment) => describe(environment, session.services, session.spyderKernelsRange)));
		const params = { added: await view(change.added), changed: await view(change.changed), removed: [...change.removed] };
		await session.connection.sendNotification(EnvironmentDidChangeNotification.type, params);
	} catch (error) {
		// One connection's failure (closed, slow) must not stop the others from hearing, nor the host.
		session.services.logger.debug({ err: (error as Error).message }, 'environment notification not delivered');
	}
}
