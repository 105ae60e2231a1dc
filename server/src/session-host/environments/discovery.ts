/**
 * Lists the Python environments a user can run kernels in, from metadata
 * files alone: starting each interpreter to ask would cost 30-50 ms per
 * environment, and a user with a hundred conda environments would wait
 * seconds for a list. Runs as the user, so what it reports is what the
 * user can see. A problem with one environment is reported on that
 * environment; the list as a whole does not fail.
 */
import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { access, lstat, readdir, realpath, stat } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { readRegularText } from '../../common/bounded-file.js';
import {
	majorMinor,
	parseCondaRecordFilename,
	parseCondarcEnvsDirs,
	parseDistributionDirName,
	parseMetadataVersion,
	parsePatchlevelVersion,
	parsePyvenvCfg,
	type PackageRecord,
} from './metadata.js';
import { parseVersionRange, type VersionRange } from './version-range.js';

export type EnvironmentKind = 'conda' | 'venv' | 'pyenv' | 'system';

export interface DiscoveryOptions {
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

export interface DiscoveredEnvironment {
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
export async function discoverEnvironments(options: DiscoveryOptions): Promise<DiscoveredEnvironment[]> {
	const range = options.spyderKernelsRange === undefined ? undefined : parseVersionRange(options.spyderKernelsRange);
	const found = (
		await Promise.all([findCondaEnvironments(options.home), findVenvs(options), findPyenvVersions(options), findSystemInterpreters(options), findExtraPrefixes(options)])
	).flat();
	const context: Context = { home: options.home, range, readSiteDirectory: memoize(readSiteDirectory) };
	const environments = await Promise.all((await uniqueByRealPrefix(found)).map((candidate) => describeSafely(candidate, context)));
	return environments.sort(byKindThenName);
}

/** An environment found, before its metadata is read. */
interface Candidate {
	readonly kind: EnvironmentKind;
	readonly name: string;
	readonly prefix: string;
	/** Set for configured interpreters; otherwise the interpreter is looked for in the prefix. */
	readonly python?: string;
	/** For a path the user named that holds no environment at all, which they should hear about. */
	readonly problem?: string;
}

interface Located extends Candidate {
	readonly realPrefix: string;
}

interface Context {
	readonly home: string;
	readonly range: VersionRange | undefined;
	/** Shared by all environments of one discovery: venvs with system site packages all read the same directories. */
	readonly readSiteDirectory: (directory: string) => Promise<Installed>;
}

/** Normalized package name → where its metadata is, first on sys.path first. */
type Installed = Map<string, Distribution>;

interface Distribution {
	readonly version?: string;
	/** The .dist-info or .egg-info path, to read the version from when the name lacks one. */
	readonly metadata?: string;
}

const CONDA_INSTALLATION_ROOTS = ['~/miniforge3', '~/mambaforge', '~/miniconda3', '~/anaconda3', '/opt/conda', '~/micromamba', '~/.local/share/mamba'];
/** The user-level files of conda's search path; an installation root's own .condarc is added per root. */
const CONDARC_FILES = ['~/.condarc', '~/.config/conda/.condarc', '~/.config/conda/condarc', '~/.conda/.condarc', '~/.conda/condarc'];
const DEFAULT_VENV_ROOTS = ['~/.virtualenvs', '~/venvs', '~/.venvs'];
const DEFAULT_SYSTEM_INTERPRETERS = ['/usr/bin/python3'];
const KIND_ORDER: readonly EnvironmentKind[] = ['conda', 'venv', 'pyenv', 'system'];
/** environments.txt, .condarc, pyvenv.cfg, patchlevel.h: a few KiB at most when genuine. */
const USER_FILE_BYTES = 1024 * 1024;
/** Version is a header, and headers come first; the long description after them is not needed. */
const METADATA_HEADER_BYTES = 64 * 1024;

async function findCondaEnvironments(home: string): Promise<Candidate[]> {
	const roots = CONDA_INSTALLATION_ROOTS.map((root) => expandHome(root, home));
	const configured = await Promise.all([...CONDARC_FILES.map((file) => expandHome(file, home)), ...roots.map((root) => join(root, '.condarc'))].map(readEnvsDirs));
	const envsDirectories = [...roots.map((root) => join(root, 'envs')), join(home, '.conda', 'envs'), ...configured.flat().map((directory) => expandHome(directory, home))];
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
async function findVenvs(options: DiscoveryOptions): Promise<Candidate[]> {
	const roots = (options.venvRoots ?? DEFAULT_VENV_ROOTS).map((root) => expandHome(root, options.home));
	const prefixes = (await Promise.all(roots.map(subdirectoriesOf))).flat();
	const kinds = await Promise.all(prefixes.map(environmentKindOf));
	return prefixes.flatMap((prefix, index) => (kinds[index] ? [{ kind: kinds[index], name: basename(prefix), prefix }] : []));
}

/** pyenv "versions" may also be pyenv-virtualenv venvs or conda installations; their contents decide. */
async function findPyenvVersions(options: DiscoveryOptions): Promise<Candidate[]> {
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

async function findExtraPrefixes(options: DiscoveryOptions): Promise<Candidate[]> {
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
async function findSystemInterpreters(options: DiscoveryOptions): Promise<Candidate[]> {
	const found = await Promise.all(
		(options.systemInterpreters ?? DEFAULT_SYSTEM_INTERPRETERS).map(async (python): Promise<Candidate | undefined> => {
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

/** The first source to find a prefix names it; the kind does not depend on the source. */
async function uniqueByRealPrefix(candidates: readonly Candidate[]): Promise<Located[]> {
	const located = await Promise.all(candidates.map(async (candidate) => ({ ...candidate, realPrefix: await realpath(candidate.prefix).catch(() => resolve(candidate.prefix)) })));
	const seen = new Set<string>();
	return located.filter((candidate) => !seen.has(candidate.realPrefix) && seen.add(candidate.realPrefix));
}

async function describeSafely(candidate: Located, context: Context): Promise<DiscoveredEnvironment> {
	try {
		return await describe(candidate, context);
	} catch (error) {
		return finish(candidate, context, { python: candidate.python ?? join(candidate.prefix, 'bin', 'python'), installed: new Map(), writable: false, broken: `could not be inspected: ${(error as Error).message}` });
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

async function describe(candidate: Located, context: Context): Promise<DiscoveredEnvironment> {
	if (candidate.problem) return finish(candidate, context, { python: join(candidate.prefix, 'bin', 'python'), installed: new Map(), writable: false, broken: candidate.problem });
	const python = candidate.python ?? (await pythonIn(candidate.prefix)) ?? join(candidate.prefix, 'bin', 'python');
	const [executable, packages, writable] = await Promise.all([inspectExecutable(python), readPackages(candidate, python, context), isWritable(candidate.prefix)]);
	const pythonVersion = packages.pythonVersion ?? versionFromExecutableName(executable.realPath);
	const broken = executable.problem ?? packages.problem;
	return finish(candidate, context, { python, installed: packages.installed, sources: packages.sources, writable, ...(pythonVersion ? { pythonVersion } : {}), ...(broken ? { broken } : {}) });
}

async function finish(candidate: Located, context: Context, inspection: Inspection): Promise<DiscoveredEnvironment> {
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

/** bin/python, or bin/python3 where there is no unversioned name (Debian's /usr without python-is-python3). */
async function pythonIn(prefix: string): Promise<string | undefined> {
	for (const name of ['python', 'python3']) {
		const path = join(prefix, 'bin', name);
		if (await lstat(path).catch(() => undefined)) return path;
	}
	return undefined;
}

interface Executable {
	readonly realPath?: string;
	readonly problem?: string;
}

async function inspectExecutable(python: string): Promise<Executable> {
	const name = displayName(python);
	try {
		await lstat(python);
	} catch (error) {
		return { problem: isMissing(error) ? `${name} is missing` : `${name} is not accessible (${errorCode(error)})` };
	}
	let real: string;
	try {
		real = await realpath(python);
	} catch (error) {
		if (isMissing(error)) return { problem: 'python symlink is dangling' };
		return { problem: errorCode(error) === 'ELOOP' ? 'python symlink loops' : `${name} is not accessible (${errorCode(error)})` };
	}
	if (!(await stat(real)).isFile()) return { realPath: real, problem: `${name} is not a file` };
	const executable = await access(real, constants.X_OK).then(
		() => true,
		() => false,
	);
	return executable ? { realPath: real } : { realPath: real, problem: `${name} is not executable` };
}

/** 'bin/python' reads better than the full path in a message shown next to the prefix. */
function displayName(python: string): string {
	return join(basename(dirname(python)), basename(python));
}

/** 'python3.11' → '3.11': the best a name can tell, used when no metadata names the exact version. */
function versionFromExecutableName(realPath: string | undefined): string | undefined {
	return realPath ? /^python(\d+\.\d+)/.exec(basename(realPath))?.[1] : undefined;
}

interface Packages {
	readonly installed: Installed;
	readonly sources?: readonly string[];
	readonly pythonVersion?: string;
	readonly problem?: string;
}

function readPackages(candidate: Located, python: string, context: Context): Promise<Packages> {
	switch (candidate.kind) {
		case 'conda':
			return readCondaPackages(candidate.prefix, python, context);
		case 'venv':
			return readVenvPackages(candidate.prefix, python, context);
		case 'pyenv':
		case 'system':
			return readInterpreterPackages(candidate.prefix, python, context);
	}
}

/**
 * conda-meta records name what conda installed; site-packages adds what pip
 * installed on top, and wins where both have a package, as it does on
 * import. conda's Python reads the user's site directory too, ahead of both.
 */
async function readCondaPackages(prefix: string, python: string, context: Context): Promise<Packages> {
	let records: PackageRecord[];
	try {
		records = (await readdir(join(prefix, 'conda-meta'))).map(parseCondaRecordFilename).filter((record) => record !== undefined);
	} catch (error) {
		return { installed: new Map(), problem: `conda-meta unreadable (${errorCode(error)})` };
	}
	const pythonVersion = records.find((record) => record.name === 'python')?.version ?? (await versionOfExecutable(python));
	const xy = pythonVersion && majorMinor(pythonVersion);
	const directories = xy ? [userSiteDirectory(context.home, xy), join(prefix, 'lib', `python${xy}`, 'site-packages')] : [];
	const installed = await mergeSiteDirectories(directories, context);
	for (const record of records) if (!installed.has(record.name)) installed.set(record.name, record.version ? { version: record.version } : {});
	return { installed, sources: [...directories, join(prefix, 'conda-meta')], ...(pythonVersion ? { pythonVersion } : {}) };
}

/**
 * The order is site.py's for a venv: the user's site directory and the base
 * interpreter's directories are on sys.path only with system site packages.
 */
async function readVenvPackages(prefix: string, python: string, context: Context): Promise<Packages> {
	let text: string;
	try {
		text = await readUserFile(join(prefix, 'pyvenv.cfg'));
	} catch (error) {
		return { installed: new Map(), problem: `pyvenv.cfg unreadable (${errorCode(error) === 'EREFUSED' ? (error as Error).message : errorCode(error)})` };
	}
	const config = parsePyvenvCfg(text);
	const pythonVersion = config.version ?? (await versionOfExecutable(python));
	const xy = pythonVersion && majorMinor(pythonVersion);
	const own = xy ? [join(prefix, 'lib', `python${xy}`, 'site-packages')] : [];
	const directories =
		config.includeSystemSitePackages && xy ? [userSiteDirectory(context.home, xy), ...own, ...(config.home ? interpreterSiteDirectories(dirname(config.home), xy) : [])] : own;
	return { installed: await mergeSiteDirectories(directories, context), sources: directories, ...(pythonVersion ? { pythonVersion } : {}) };
}

async function readInterpreterPackages(prefix: string, python: string, context: Context): Promise<Packages> {
	const xy = versionFromExecutableName(await realpath(python).catch(() => undefined));
	if (!xy) return { installed: new Map() };
	const patchlevel = await readPatchlevelVersion(prefix, xy);
	// Headers of another build can sit in the same prefix; they count only when they agree with the executable.
	const pythonVersion = patchlevel && majorMinor(patchlevel) === xy ? patchlevel : xy;
	const directories = [userSiteDirectory(context.home, xy), ...interpreterSiteDirectories(prefix, xy)];
	return { installed: await mergeSiteDirectories(directories, context), sources: directories, pythonVersion };
}

/** Python 3.7 and older put their headers in include/python3.7m. */
async function readPatchlevelVersion(prefix: string, xy: string): Promise<string | undefined> {
	for (const directory of [`python${xy}`, `python${xy}m`]) {
		const version = parsePatchlevelVersion(await readUserFile(join(prefix, 'include', directory, 'patchlevel.h')).catch(() => ''));
		if (version) return version;
	}
	return undefined;
}

async function versionOfExecutable(python: string): Promise<string | undefined> {
	return versionFromExecutableName(await realpath(python).catch(() => undefined));
}

function userSiteDirectory(home: string, xy: string): string {
	return join(home, '.local', 'lib', `python${xy}`, 'site-packages');
}

/**
 * In sys.path order. Debian's interpreter in /usr reads /usr/local's
 * dist-packages first, then its own dist-packages; other builds use
 * site-packages. Listing all of them costs a failed readdir for each that
 * does not exist.
 */
function interpreterSiteDirectories(prefix: string, xy: string): string[] {
	return [
		...(prefix === '/usr' ? [`/usr/local/lib/python${xy}/dist-packages`] : []),
		join(prefix, 'lib', 'python3', 'dist-packages'),
		join(prefix, 'lib', `python${xy}`, 'dist-packages'),
		join(prefix, 'lib', `python${xy}`, 'site-packages'),
	];
}

/** The first directory holding a package wins, as on import. */
async function mergeSiteDirectories(directories: readonly string[], context: Context): Promise<Installed> {
	const merged: Installed = new Map();
	for (const installed of await Promise.all(directories.map(context.readSiteDirectory))) {
		for (const [name, distribution] of installed) if (!merged.has(name)) merged.set(name, distribution);
	}
	return merged;
}

async function readSiteDirectory(directory: string): Promise<Installed> {
	const installed: Installed = new Map();
	for (const entry of await readdir(directory).catch(() => [])) {
		const record = parseDistributionDirName(entry);
		if (record && !installed.has(record.name)) installed.set(record.name, { ...(record.version ? { version: record.version } : {}), metadata: join(directory, entry) });
	}
	return installed;
}

/**
 * Only the few names discovery asks about reach here, so reading a metadata
 * file for an unversioned directory name stays rare. A distribution whose
 * version cannot be read at all counts as absent: nothing can be checked
 * against it.
 */
async function versionOf(distribution: Distribution | undefined): Promise<string | undefined> {
	if (!distribution || distribution.version || !distribution.metadata) return distribution?.version;
	const metadata = distribution.metadata;
	// An old distutils install writes .egg-info as a single file holding what PKG-INFO would.
	for (const file of [join(metadata, 'METADATA'), join(metadata, 'PKG-INFO'), metadata]) {
		const version = parseMetadataVersion(await readRegularText(file, { maxBytes: METADATA_HEADER_BYTES, followSymlink: true, truncate: true }).catch(() => ''));
		if (version) return version;
	}
	return undefined;
}

/**
 * Every file discovery reads is the user's to make: a FIFO must not hang
 * the host, nor a huge file bloat it. Links are followed, as Python and conda
 * follow them; the host reads as the user, so a link leads nowhere new.
 */
function readUserFile(path: string): Promise<string> {
	return readRegularText(path, { maxBytes: USER_FILE_BYTES, followSymlink: true });
}

async function subdirectoriesOf(directory: string): Promise<string[]> {
	const entries = await readdir(directory).catch(() => []);
	return entries.map((entry) => join(directory, entry));
}

export function expandHome(path: string, home: string): string {
	if (path === '~') return home;
	return path.startsWith('~/') ? join(home, path.slice(2)) : path;
}

async function exists(path: string): Promise<boolean> {
	return stat(path).then(
		() => true,
		() => false,
	);
}

async function isDirectory(path: string): Promise<boolean> {
	return stat(path).then(
		(stats) => stats.isDirectory(),
		() => false,
	);
}

async function isWritable(path: string): Promise<boolean> {
	return access(path, constants.W_OK).then(
		() => true,
		() => false,
	);
}

function errorCode(error: unknown): string | undefined {
	return (error as NodeJS.ErrnoException).code;
}

function isMissing(error: unknown): boolean {
	return errorCode(error) === 'ENOENT' || errorCode(error) === 'ENOTDIR';
}

/** One read per directory per discovery, however many environments share it. */
function memoize<T>(load: (key: string) => Promise<T>): (key: string) => Promise<T> {
	const cache = new Map<string, Promise<T>>();
	return (key) => {
		if (!cache.has(key)) cache.set(key, load(key));
		return cache.get(key)!;
	};
}

function byKindThenName(left: DiscoveredEnvironment, right: DiscoveredEnvironment): number {
	return KIND_ORDER.indexOf(left.kind) - KIND_ORDER.indexOf(right.kind) || names.compare(left.name, right.name) || names.compare(left.prefix, right.prefix);
}

/** Numeric, so pyenv's 3.9.18 sorts before 3.10.13; a fixed locale keeps the order the same for every user. */
const names = new Intl.Collator('en', { numeric: true });

export interface ListedPackage {
	readonly name: string;
	readonly version: string;
	readonly installer: 'pip' | 'conda';
}

/**
 * Every package importable in the environment, first on sys.path first, with
 * the installer that put it there: conda when conda-meta records it, pip
 * otherwise. conda-meta lists packages without Python metadata too (e.g.
 * openssl); they are included.
 */
export async function listPackages(environment: DiscoveredEnvironment): Promise<ListedPackage[]> {
	const condaMeta = environment.packageSources.find((source) => basename(source) === 'conda-meta');
	const condaRecords = new Map<string, string>();
	if (condaMeta) {
		for (const entry of await readdir(condaMeta).catch(() => [])) {
			const record = parseCondaRecordFilename(entry);
			if (record?.version) condaRecords.set(record.name, record.version);
		}
	}
	const siteDirectories = environment.packageSources.filter((source) => source !== condaMeta);
	const installed = await mergeSiteDirectories(siteDirectories, { home: '', range: undefined, readSiteDirectory });
	const packages = new Map<string, ListedPackage>();
	for (const [name, distribution] of installed) {
		const version = (await versionOf(distribution)) ?? condaRecords.get(name) ?? 'unknown';
		packages.set(name, { name, version, installer: condaRecords.get(name) === version ? 'conda' : 'pip' });
	}
	for (const [name, version] of condaRecords) if (!packages.has(name)) packages.set(name, { name, version, installer: 'conda' });
	return [...packages.values()].sort((left, right) => names.compare(left.name, right.name));
}

function digestOf(installed: Installed): string {
	const hash = createHash('sha256');
	for (const [name, distribution] of installed) hash.update(`${name}\0${distribution.version ?? ''}\0${distribution.metadata ?? ''}\n`);
	return hash.digest('hex').slice(0, 16);
}
