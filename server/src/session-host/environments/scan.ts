/**
 * Lists the Python environments a user can run kernels in, from metadata
 * files alone: starting each interpreter to ask would cost 30-50 ms per
 * environment, and a user with a hundred conda environments would wait
 * seconds for a list. Runs as the user, so what it reports is what the
 * user can see. A problem with one environment is reported on that
 * environment; the list as a whole does not fail.
 *
 * scan/ holds the steps: locate.ts finds prefixes, interpreter.ts judges the
 * executable, packages.ts reads what is installed.
 */
import { createHash } from 'node:crypto';
import { realpath } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { EnvironmentKind } from '@spyder-remote/protocol';
import { isWritable } from './scan/files.js';
import { inspectExecutable, pythonIn, versionFromExecutableName } from './scan/interpreter.js';
import { findCondaEnvironments, findExtraPrefixes, findPyenvVersions, findSystemInterpreters, findVenvs, type Candidate } from './scan/locate.js';
import { digestOf, nameOrder, readPackages, readSiteDirectory, versionOf, type Installed, type SiteReader } from './scan/packages.js';
import { parseVersionRange, type VersionRange } from './version-range.js';

const KIND_ORDER: readonly EnvironmentKind[] = ['conda', 'venv', 'pyenv', 'system'];

export interface ScanOptions {
	readonly home: string;
	/** Directories whose subdirectories are venvs; default ~/.virtualenvs, ~/venvs, ~/.venvs. */
	readonly venvRoots?: readonly string[];
	/** Prefixes to list whatever they hold; one that is missing or unusable is listed as broken. */
	readonly extraPaths?: readonly string[];
	/** Interpreter paths; default /usr/bin/python3. One that does not exist is left out. */
	readonly systemInterpreters?: readonly string[];
	/** Default ~/.pyenv. */
	readonly pyenvRoot?: string;
	/** Such as '>=2.4.0,<2.5.0'; when given, each environment says whether its spyder-kernels fits. Throws if unreadable. */
	readonly spyderKernelsRange?: string;
}

export interface Compatibility {
	readonly ok: boolean;
	readonly reason?: string;
}

export interface ScannedEnvironment {
	/** Stable across runs: the first 16 hex digits of the SHA-256 of the prefix's real path. */
	readonly id: string;
	readonly name: string;
	readonly kind: EnvironmentKind;
	readonly prefix: string;
	/** The executable to start, as found: a venv must be started through its own link, not the interpreter it points to. */
	readonly python: string;
	readonly pythonVersion?: string;
	/** The installed version; absent when not installed or when its version cannot be read. */
	readonly spyderKernels?: string;
	readonly ipykernel: boolean;
	/** Whether the user may write to the prefix, i.e. install packages into it. */
	readonly writable: boolean;
	/** Present when a spyderKernelsRange was given. */
	readonly compatible?: Compatibility;
	/** Why the environment cannot be used, e.g. 'python symlink is dangling'. */
	readonly broken?: string;
	/** The conda-meta and site directories its packages were read from, in import order: what to watch, and what listPackages reads. */
	readonly packageSources: readonly string[];
	/** Changes whenever any installed package or version changes, so that such changes are reported too. */
	readonly packagesDigest: string;
}

/**
 * conda's own rules, without conda: prefixes conda recorded in
 * ~/.conda/environments.txt, the envs directories of the usual installation
 * roots and of the user's .condarc files, and the roots themselves. A prefix
 * is a conda environment only when it has conda-meta/history. Lines of
 * environments.txt that no longer name a conda environment are skipped, as
 * `conda env list` skips them: conda never removes them itself.
 */
export async function scanEnvironments(options: ScanOptions): Promise<ScannedEnvironment[]> {
	const range = options.spyderKernelsRange === undefined ? undefined : parseVersionRange(options.spyderKernelsRange);
	const found = (
		await Promise.all([
			findCondaEnvironments(options.home),
			findVenvs(options),
			findPyenvVersions(options),
			findSystemInterpreters(options),
			findExtraPrefixes(options),
		])
	).flat();
	const context: Context = { home: options.home, range, readSiteDirectory: memoize(readSiteDirectory) };
	const environments = await Promise.all((await uniqueByRealPrefix(found)).map((candidate) => describeSafely(candidate, context)));
	return environments.sort(byKindThenName);
}

interface Located extends Candidate {
	readonly realPrefix: string;
}

interface Context extends SiteReader {
	readonly range: VersionRange | undefined;
}

/** The first source to find a prefix names it; the kind does not depend on the source. */
async function uniqueByRealPrefix(candidates: readonly Candidate[]): Promise<Located[]> {
	const located = await Promise.all(
		candidates.map(async (candidate) => ({ ...candidate, realPrefix: await realpath(candidate.prefix).catch(() => resolve(candidate.prefix)) })),
	);
	const seen = new Set<string>();
	return located.filter((candidate) => !seen.has(candidate.realPrefix) && seen.add(candidate.realPrefix));
}

async function describeSafely(candidate: Located, context: Context): Promise<ScannedEnvironment> {
	try {
		return await describe(candidate, context);
	} catch (error) {
		return finish(candidate, context, {
			python: candidate.python ?? join(candidate.prefix, 'bin', 'python'),
			installed: new Map(),
			writable: false,
			broken: `could not be inspected: ${(error as Error).message}`,
		});
	}
}

interface Inspection {
	readonly python: string;
	readonly sources?: readonly string[];
	readonly pythonVersion?: string;
	readonly installed: Installed;
	readonly writable: boolean;
	readonly broken?: string;
}

async function describe(candidate: Located, context: Context): Promise<ScannedEnvironment> {
	if (candidate.problem)
		return finish(candidate, context, { python: join(candidate.prefix, 'bin', 'python'), installed: new Map(), writable: false, broken: candidate.problem });
	const python = candidate.python ?? (await pythonIn(candidate.prefix)) ?? join(candidate.prefix, 'bin', 'python');
	const [executable, packages, writable] = await Promise.all([
		inspectExecutable(python),
		readPackages(candidate, python, context),
		isWritable(candidate.prefix),
	]);
	const pythonVersion = packages.pythonVersion ?? versionFromExecutableName(executable.realPath);
	const broken = executable.problem ?? packages.problem;
	return finish(candidate, context, {
		python,
		installed: packages.installed,
		sources: packages.sources,
		writable,
		...(pythonVersion ? { pythonVersion } : {}),
		...(broken ? { broken } : {}),
	});
}

async function finish(candidate: Located, context: Context, inspection: Inspection): Promise<ScannedEnvironment> {
	const spyderKernels = await versionOf(inspection.installed.get('spyder-kernels'));
	return {
		id: createHash('sha256').update(candidate.realPrefix).digest('hex').slice(0, 16),
		name: candidate.name,
		kind: candidate.kind,
		prefix: candidate.prefix,
		python: inspection.python,
		...(inspection.pythonVersion ? { pythonVersion: inspection.pythonVersion } : {}),
		...(spyderKernels ? { spyderKernels } : {}),
		ipykernel: inspection.installed.has('ipykernel'),
		writable: inspection.writable,
		...(context.range ? { compatible: checkCompatibility(context.range, spyderKernels, inspection.broken) } : {}),
		...(inspection.broken ? { broken: inspection.broken } : {}),
		packageSources: inspection.sources ?? [],
		packagesDigest: digestOf(inspection.installed),
	};
}

export function checkCompatibility(range: VersionRange, spyderKernels: string | undefined, broken: string | undefined): Compatibility {
	if (broken) return { ok: false, reason: `the environment is broken: ${broken}` };
	if (!spyderKernels) return { ok: false, reason: 'spyder-kernels is not installed' };
	if (!range.includes(spyderKernels)) return { ok: false, reason: `spyder-kernels ${spyderKernels} found, needs ${range.text}` };
	return { ok: true };
}

/** One read per directory per scan, however many environments share it. */
function memoize<T>(load: (key: string) => Promise<T>): (key: string) => Promise<T> {
	const cache = new Map<string, Promise<T>>();
	return (key) => {
		if (!cache.has(key)) cache.set(key, load(key));
		return cache.get(key)!;
	};
}

function byKindThenName(left: ScannedEnvironment, right: ScannedEnvironment): number {
	return (
		KIND_ORDER.indexOf(left.kind) - KIND_ORDER.indexOf(right.kind) || nameOrder.compare(left.name, right.name) || nameOrder.compare(left.prefix, right.prefix)
	);
}
