import type { Environment } from '@spyder-remote/protocol';
import type { RemoteSession } from '../../session.js';
import { UsageError, type Command } from '../command.js';
import { progressDisplay } from '../progress-display.js';

/** An environment named by id, prefix or name; a name that several share is an error that lists them. */
export async function resolveEnvironment(session: RemoteSession, reference: string | undefined): Promise<Environment> {
	if (!reference) throw new UsageError('name the environment (its name, prefix or id)');
	const environments = await session.listEnvironments();
	const exact = environments.find((environment) => environment.id === reference || environment.prefix === reference);
	if (exact) return exact;
	const named = environments.filter((environment) => environment.name === reference);
	if (named.length === 1) return named[0]!;
	if (named.length > 1)
		throw new UsageError(`${reference} names ${named.length} environments; give a prefix: ${named.map((environment) => environment.prefix).join(', ')}`);
	throw new Error(`no environment named ${JSON.stringify(reference)}; see ssd envs`);
}

async function withProgress<T>(operation: (options: ReturnType<typeof progressDisplay>) => Promise<T>): Promise<T> {
	const display = progressDisplay();
	try {
		return await operation(display);
	} finally {
		display.stop();
	}
}

function table(rows: string[][]): string {
	const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
	return rows
		.map((row) =>
			row
				.map((cell, column) => cell.padEnd(widths[column]!))
				.join('  ')
				.trimEnd(),
		)
		.join('\n');
}

export const envs: Command = {
	name: 'envs',
	summary: 'list your Python environments on the server',
	synopsis: 'HOST[:PORT] [--spyder-kernels RANGE] [--refresh]',
	remote: true,
	options: { 'spyder-kernels': { type: 'string' }, refresh: { type: 'boolean', default: false } },
	async run({ values, session, print }) {
		const range = values['spyder-kernels'] as string | undefined;
		const environments = await (await session()).listEnvironments({ ...(range ? { spyderKernelsRange: range } : {}), refresh: values.refresh === true });
		const rows = [['NAME', 'KIND', 'PYTHON', 'SPYDER-KERNELS', 'IPYKERNEL', ...(range ? ['USABLE'] : []), 'PREFIX']];
		for (const environment of environments) {
			rows.push([
				environment.name,
				environment.kind,
				environment.pythonVersion ?? '?',
				environment.spyderKernels ?? '-',
				environment.ipykernel ? 'yes' : 'no',
				...(range ? [environment.compatible?.ok ? 'yes' : `no: ${environment.compatible?.reason ?? environment.broken ?? ''}`] : []),
				environment.broken ? `${environment.prefix} (broken: ${environment.broken})` : environment.prefix,
			]);
		}
		print(table(rows), environments);
	},
};

export const envPackages: Command = {
	name: 'env packages',
	summary: 'list the packages installed in an environment',
	synopsis: 'HOST[:PORT] ENV',
	remote: true,
	async run({ args, session, print }) {
		const remote = await session();
		const environment = await resolveEnvironment(remote, args[0]);
		const packages = await remote.listPackages(environment.id);
		print(table([['NAME', 'VERSION', 'INSTALLER'], ...packages.map((item) => [item.name, item.version, item.installer])]), packages);
	},
};

export const envCreate: Command = {
	name: 'env create',
	summary: 'create a venv or a conda environment',
	synopsis: 'HOST[:PORT] NAME [--kind venv|conda] [--python PATH|VERSION] [--system-site-packages] [--package SPEC]...',
	remote: true,
	options: {
		kind: { type: 'string', default: 'venv' },
		python: { type: 'string' },
		'system-site-packages': { type: 'boolean', default: false },
		package: { type: 'string', multiple: true },
	},
	async run({ args, values, session, print }) {
		const [name] = args;
		if (!name || args.length > 1) throw new UsageError('give exactly one NAME');
		if (values.kind !== 'venv' && values.kind !== 'conda') throw new UsageError('--kind is venv or conda');
		const remote = await session();
		const environment = await withProgress((options) =>
			remote.createEnvironment(
				{
					name,
					kind: values.kind as 'venv' | 'conda',
					...(values.python ? { python: values.python as string } : {}),
					...(values['system-site-packages'] ? { systemSitePackages: true } : {}),
					...(values.package ? { packages: values.package as string[] } : {}),
				},
				options,
			),
		);
		print(`Created ${environment.name} at ${environment.prefix}`, environment);
	},
};

export const envRemove: Command = {
	name: 'env remove',
	summary: 'remove an environment you own',
	synopsis: 'HOST[:PORT] ENV',
	remote: true,
	async run({ args, session, print }) {
		const remote = await session();
		const environment = await resolveEnvironment(remote, args[0]);
		await withProgress((options) => remote.removeEnvironment(environment.id, options));
		print(`Removed ${environment.name} (${environment.prefix})`, { removed: environment.id });
	},
};

export const envInstall: Command = {
	name: 'env install',
	summary: 'install packages (pip or conda) into an environment',
	synopsis: 'HOST[:PORT] ENV [SPEC]... [--path LOCAL_PATH]... [--installer pip|conda]',
	remote: true,
	options: { path: { type: 'string', multiple: true }, installer: { type: 'string' } },
	async run({ args, values, session, print }) {
		const [reference, ...packages] = args;
		const remote = await session();
		const environment = await resolveEnvironment(remote, reference);
		const changed = await withProgress((options) =>
			remote.installPackages(
				{
					id: environment.id,
					...(packages.length ? { packages } : {}),
					...(values.path ? { paths: values.path as string[] } : {}),
					...(values.installer ? { installer: values.installer as 'pip' | 'conda' } : {}),
				},
				options,
			),
		);
		print(`Installed into ${changed.name}`, changed);
	},
};

export const envUninstall: Command = {
	name: 'env uninstall',
	summary: 'uninstall packages from an environment',
	synopsis: 'HOST[:PORT] ENV NAME... [--installer pip|conda]',
	remote: true,
	options: { installer: { type: 'string' } },
	async run({ args, values, session, print }) {
		const [reference, ...packages] = args;
		if (packages.length === 0) throw new UsageError('name the packages to uninstall');
		const remote = await session();
		const environment = await resolveEnvironment(remote, reference);
		const changed = await withProgress((options) =>
			remote.uninstallPackages({ id: environment.id, packages, ...(values.installer ? { installer: values.installer as 'pip' | 'conda' } : {}) }, options),
		);
		print(`Uninstalled from ${changed.name}`, changed);
	},
};
