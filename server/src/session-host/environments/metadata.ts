/**
 * Readers for the small files and file names that describe a Python
 * environment, so that listing environments never has to start Python.
 * Pure functions of text: the file system is discovery.ts's business.
 */

export interface PackageRecord {
	/** Normalized with normalizePackageName. */
	readonly name: string;
	/** Absent when the name does not carry it (an unversioned 'foo.egg-info'). */
	readonly version?: string;
}

/** PEP 503: names compare lowercased, with any run of '-', '_' and '.' as one '-'. */
export function normalizePackageName(name: string): string {
	return name.toLowerCase().replace(/[-_.]+/g, '-');
}

/**
 * 'spyder-kernels-2.4.2-py311_0.json' is spyder-kernels 2.4.2. Conda allows
 * no dash in a version or build string, so the last two dashes split the
 * name, which may hold dashes of its own, from the rest.
 */
export function parseCondaRecordFilename(filename: string): PackageRecord | undefined {
	const match = /^(.+)-([^-]+)-([^-]+)\.json$/.exec(filename);
	return match ? { name: normalizePackageName(match[1]!), version: match[2]! } : undefined;
}

/**
 * 'spyder_kernels-2.4.2.dist-info', 'foo-1.0-py3.11.egg-info' or
 * 'cryptography.egg-info'. Installers write dashes in the name as '_', so
 * the first dash ends the name.
 */
export function parseDistributionDirName(filename: string): PackageRecord | undefined {
	const match = /^([^-]+)(?:-([^-]+))?(?:-[^-]*)?\.(?:dist-info|egg-info)$/.exec(filename);
	if (!match) return undefined;
	const name = normalizePackageName(match[1]!);
	return match[2] ? { name, version: match[2] } : { name };
}

/** The 'Version:' header of a METADATA or PKG-INFO file. */
export function parseMetadataVersion(text: string): string | undefined {
	return /^Version:[ \t]*(\S+)/m.exec(text)?.[1];
}

export interface PyvenvConfig {
	/** The directory of the interpreter the venv was made from. */
	readonly home?: string;
	readonly version?: string;
	readonly includeSystemSitePackages: boolean;
}

/**
 * Read the way Python's site.py reads it: 'key = value' lines, keys
 * case-insensitive. venv writes 'version = 3.11.2'; virtualenv writes
 * 'version_info = 3.11.2.final.0', of which the dotted numbers are kept.
 */
export function parsePyvenvCfg(text: string): PyvenvConfig {
	const values = new Map<string, string>();
	for (const line of text.split('\n')) {
		const separator = line.indexOf('=');
		if (separator > 0) values.set(line.slice(0, separator).trim().toLowerCase(), line.slice(separator + 1).trim());
	}
	const version = /^\d+(?:\.\d+)*/.exec(values.get('version') ?? values.get('version_info') ?? '')?.[0];
	return {
		...(values.get('home') ? { home: values.get('home') } : {}),
		...(version ? { version } : {}),
		includeSystemSitePackages: values.get('include-system-site-packages')?.toLowerCase() === 'true',
	};
}

/**
 * The entries of a .condarc's top-level 'envs_dirs:' block list ('  - ~/envs'),
 * as written: '~' is left for the caller. Other YAML forms of the key are
 * not recognised; a YAML parser is not worth a dependency for one key.
 */
export function parseCondarcEnvsDirs(text: string): string[] {
	const lines = text.split(/\r?\n/);
	const start = lines.findIndex((line) => /^envs_dirs[ \t]*:[ \t]*(?:#.*)?$/.test(line));
	if (start < 0) return [];
	const entries: string[] = [];
	for (const line of lines.slice(start + 1)) {
		if (/^\s*(?:#.*)?$/.test(line)) continue;
		const item = /^\s*-\s+(.*?)\s*$/.exec(line);
		if (!item) break;
		const value = unquote(stripComment(item[1]!));
		if (value) entries.push(value);
	}
	return entries;
}

/** In YAML a comment starts at a '#' after whitespace, so 'envs#1' is a name. */
function stripComment(value: string): string {
	return value.replace(/\s+#.*$/, '').trim();
}

function unquote(value: string): string {
	const quoted = /^(['"])(.*)\1$/.exec(value);
	return quoted ? quoted[2]! : value;
}

/** PY_VERSION from CPython's include/pythonX.Y/patchlevel.h, the one file that names the exact build. */
export function parsePatchlevelVersion(text: string): string | undefined {
	return /^#define[ \t]+PY_VERSION[ \t]+"([^"]+)"/m.exec(text)?.[1];
}

/** '3.11' from '3.11.4', for the lib/python3.11 directory names. */
export function majorMinor(version: string): string | undefined {
	return /^(\d+\.\d+)/.exec(version)?.[1];
}
