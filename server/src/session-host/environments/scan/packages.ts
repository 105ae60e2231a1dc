/** What is installed in an environment, from conda-meta records and site directories, as import would see it. */
import { createHash } from 'node:crypto';
import { readdir, realpath } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { EnvironmentKind, InstalledPackage } from '@spyder-remote/protocol';
import { readRegularText } from '../../../common/bounded-file.js';
import {
	majorMinor,
	parseCondaRecordFilename,
	parseDistributionDirName,
	parseMetadataVersion,
	parsePatchlevelVersion,
	parsePyvenvCfg,
	type PackageRecord,
} from '../metadata.js';
import type { ScannedEnvironment } from '../scan.js';
import { errorCode, readUserFile } from './files.js';
import { versionFromExecutableName, versionOfExecutable } from './interpreter.js';

/** Version is a header, and headers come first; the long description after them is not needed. */
const METADATA_HEADER_BYTES = 64 * 1024;

/** How one scan reads site directories: venvs with system site packages all read the same ones, so a scan reads each once. */
export interface SiteReader {
	readonly home: string;
	readonly readSiteDirectory: (directory: string) => Promise<Installed>;
}

/** Normalized package name → where its metadata is, first on sys.path first. */
export type Installed = Map<string, Distribution>;

export interface Distribution {
	readonly version?: string;
	/** The .dist-info or .egg-info path, to read the version from when the name lacks one. */
	readonly metadata?: string;
}

export interface Packages {
	readonly installed: Installed;
	readonly sources?: readonly string[];
	readonly pythonVersion?: string;
	readonly problem?: string;
}

export function readPackages(candidate: { readonly kind: EnvironmentKind; readonly prefix: string }, python: string, context: SiteReader): Promise<Packages> {
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
async function readCondaPackages(prefix: string, python: string, context: SiteReader): Promise<Packages> {
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
async function readVenvPackages(prefix: string, python: string, context: SiteReader): Promise<Packages> {
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
		config.includeSystemSitePackages && xy
			? [userSiteDirectory(context.home, xy), ...own, ...(config.home ? interpreterSiteDirectories(dirname(config.home), xy) : [])]
			: own;
	return { installed: await mergeSiteDirectories(directories, context), sources: directories, ...(pythonVersion ? { pythonVersion } : {}) };
}

async function readInterpreterPackages(prefix: string, python: string, context: SiteReader): Promise<Packages> {
	// A link that does not resolve names no version; versionFromExecutableName then says so.
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
async function mergeSiteDirectories(directories: readonly string[], context: SiteReader): Promise<Installed> {
	const merged: Installed = new Map();
	for (const installed of await Promise.all(directories.map(context.readSiteDirectory))) {
		for (const [name, distribution] of installed) if (!merged.has(name)) merged.set(name, distribution);
	}
	return merged;
}

export async function readSiteDirectory(directory: string): Promise<Installed> {
	const installed: Installed = new Map();
	for (const entry of await readdir(directory).catch(() => [])) {
		const record = parseDistributionDirName(entry);
		if (record && !installed.has(record.name))
			installed.set(record.name, { ...(record.version ? { version: record.version } : {}), metadata: join(directory, entry) });
	}
	return installed;
}

/**
 * Only the few names discovery asks about reach here, so reading a metadata
 * file for an unversioned directory name stays rare. A distribution whose
 * version cannot be read at all counts as absent: nothing can be checked
 * against it.
 */
export async function versionOf(distribution: Distribution | undefined): Promise<string | undefined> {
	if (!distribution || distribution.version || !distribution.metadata) return distribution?.version;
	const metadata = distribution.metadata;
	// An old distutils install writes .egg-info as a single file holding what PKG-INFO would.
	for (const file of [join(metadata, 'METADATA'), join(metadata, 'PKG-INFO'), metadata]) {
		const version = parseMetadataVersion(await readRegularText(file, { maxBytes: METADATA_HEADER_BYTES, followSymlink: true, truncate: true }).catch(() => ''));
		if (version) return version;
	}
	return undefined;
}

/** Numeric, so pyenv's 3.9.18 sorts before 3.10.13; a fixed locale keeps the order the same for every user. */
export const nameOrder = new Intl.Collator('en', { numeric: true });

/**
 * Every package importable in the environment, first on sys.path first, with
 * the installer that put it there: conda when conda-meta records it, pip
 * otherwise. conda-meta lists packages without Python metadata too (e.g.
 * openssl); they are included.
 */
export async function listPackages(environment: ScannedEnvironment): Promise<InstalledPackage[]> {
	const condaMeta = environment.packageSources.find((source) => basename(source) === 'conda-meta');
	const condaRecords = new Map<string, string>();
	if (condaMeta) {
		for (const entry of await readdir(condaMeta).catch(() => [])) {
			const record = parseCondaRecordFilename(entry);
			if (record?.version) condaRecords.set(record.name, record.version);
		}
	}
	const siteDirectories = environment.packageSources.filter((source) => source !== condaMeta);
	const installed = await mergeSiteDirectories(siteDirectories, { home: '', readSiteDirectory });
	const packages = new Map<string, InstalledPackage>();
	for (const [name, distribution] of installed) {
		const version = (await versionOf(distribution)) ?? condaRecords.get(name) ?? 'unknown';
		packages.set(name, { name, version, installer: condaRecords.get(name) === version ? 'conda' : 'pip' });
	}
	for (const [name, version] of condaRecords) if (!packages.has(name)) packages.set(name, { name, version, installer: 'conda' });
	return [...packages.values()].sort((left, right) => nameOrder.compare(left.name, right.name));
}

export function digestOf(installed: Installed): string {
	const hash = createHash('sha256');
	for (const [name, distribution] of installed) hash.update(`${name}\0${distribution.version ?? ''}\0${distribution.metadata ?? ''}\n`);
	return hash.digest('hex').slice(0, 16);
}
