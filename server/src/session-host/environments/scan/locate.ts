/** Finding environment prefixes, by each tool's own rules, before anything in them is read. */
import { lstat, realpath, stat } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import type { EnvironmentKind } from '@spyder-remote/protocol';
import { CONDA_INSTALLATION_ROOTS, CONDARC_FILES, DEFAULT_SYSTEM_INTERPRETERS, DEFAULT_VENV_ROOTS, expandHome } from '../locations.js';
import { parseCondarcEnvsDirs } from '../metadata.js';
import type { ScanOptions } from '../scan.js';
import { errorCode, exists, isDirectory, isMissing, readUserFile, subdirectoriesOf } from './files.js';
import { pythonIn } from './interpreter.js';

/** An environment found, before its metadata is read. */
export interface Candidate {
	readonly kind: EnvironmentKind;
	readonly name: string;
	readonly prefix: string;
	/** Set for configured interpreters; otherwise the interpreter is looked for in the prefix. */
	readonly python?: string;
	/** For a path the user named that holds no environment at all, which they should hear about. */
	readonly problem?: string;
}

export async function findCondaEnvironments(home: string): Promise<Candidate[]> {
	const roots = CONDA_INSTALLATION_ROOTS.map((root) => expandHome(root, home));
	const configured = await Promise.all(
		[...CONDARC_FILES.map((file) => expandHome(file, home)), ...roots.map((root) => join(root, '.condarc'))].map(readEnvsDirs),
	);
	const envsDirectories = [
		...roots.map((root) => join(root, 'envs')),
		join(home, '.conda', 'envs'),
		...configured.flat().map((directory) => expandHome(directory, home)),
	];
	const prefixes = [...(await readEnvironmentsTxt(home)), ...roots, ...(await Promise.all(envsDirectories.map(subdirectoriesOf))).flat()];
	const conda = await Promise.all(prefixes.map(async (prefix) => ((await hasCondaHistory(prefix)) ? prefix : undefined)));
	return conda.filter((prefix) => prefix !== undefined).map((prefix) => ({ kind: 'conda', name: basename(prefix), prefix }));
}

async function readEnvironmentsTxt(home: string): Promise<string[]> {
	const text = await readUserFile(join(home, '.conda', 'environments.txt')).catch(() => '');
	return text
		.split('\n')
		.map((line) => line.trim())
		.filter((line) => isAbsolute(line));
}

async function readEnvsDirs(condarc: string): Promise<string[]> {
	return parseCondarcEnvsDirs(await readUserFile(condarc).catch(() => ''));
}

/** Everything under the venv roots that is a venv, or a conda environment kept there. */
export async function findVenvs(options: ScanOptions): Promise<Candidate[]> {
	const roots = (options.venvRoots ?? DEFAULT_VENV_ROOTS).map((root) => expandHome(root, options.home));
	const prefixes = (await Promise.all(roots.map(subdirectoriesOf))).flat();
	const kinds = await Promise.all(prefixes.map(environmentKindOf));
	return prefixes.flatMap((prefix, index) => (kinds[index] ? [{ kind: kinds[index], name: basename(prefix), prefix }] : []));
}

/** pyenv "versions" may also be pyenv-virtualenv venvs or conda installations; their contents decide. */
export async function findPyenvVersions(options: ScanOptions): Promise<Candidate[]> {
	const versions = join(expandHome(options.pyenvRoot ?? '~/.pyenv', options.home), 'versions');
	const prefixes = await subdirectoriesOf(versions);
	const found = await Promise.all(
		prefixes.map(async (prefix): Promise<Candidate | undefined> => {
			const kind = (await environmentKindOf(prefix)) ?? ((await pythonIn(prefix)) ? 'pyenv' : undefined);
			return kind && { kind, name: basename(prefix), prefix };
		}),
	);
	return found.filter((candidate) => candidate !== undefined);
}

export async function findExtraPrefixes(options: ScanOptions): Promise<Candidate[]> {
	return Promise.all(
		(options.extraPaths ?? []).map(async (path): Promise<Candidate> => {
			const prefix = resolve(options.home, expandHome(path, options.home));
			const kind = (await environmentKindOf(prefix)) ?? 'system';
			const problem = await stat(prefix).then(
				(stats) => (stats.isDirectory() ? undefined : 'prefix is not a directory'),
				(error: unknown) => (isMissing(error) ? 'prefix does not exist' : `prefix is not accessible (${errorCode(error)})`),
			);
			return { kind, name: kind === 'system' ? prefix : basename(prefix), prefix, ...(problem ? { problem } : {}) };
		}),
	);
}

/** The prefix of /usr/bin/python3 is /usr: the directory above the real executable's bin. */
export async function findSystemInterpreters(options: ScanOptions): Promise<Candidate[]> {
	const found = await Promise.all(
		(options.systemInterpreters ?? DEFAULT_SYSTEM_INTERPRETERS).map(async (python): Promise<Candidate | undefined> => {
			// Not installed here: not offered.
			if (!(await lstat(python).catch(() => undefined))) return undefined;
			const real = await realpath(python).catch(() => python);
			return { kind: 'system', name: python, prefix: dirname(dirname(real)), python };
		}),
	);
	return found.filter((candidate) => candidate !== undefined);
}

async function environmentKindOf(prefix: string): Promise<'conda' | 'venv' | undefined> {
	if (await hasCondaHistory(prefix)) return 'conda';
	if (await exists(join(prefix, 'pyvenv.cfg'))) return 'venv';
	return undefined;
}

/**
 * conda-meta/history marks a conda environment. A conda-meta the user may not
 * search still marks one, to be listed as broken rather than vanish.
 */
async function hasCondaHistory(prefix: string): Promise<boolean> {
	try {
		await stat(join(prefix, 'conda-meta', 'history'));
		return true;
	} catch (error) {
		return errorCode(error) === 'EACCES' && (await isDirectory(join(prefix, 'conda-meta')));
	}
}
