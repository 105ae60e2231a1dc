/** The interpreter of an environment, judged from the file system alone: it is never started. */
import { constants } from 'node:fs';
import { access, lstat, realpath, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { errorCode, isMissing } from './files.js';

/** bin/python, or bin/python3 where there is no unversioned name (Debian's /usr without python-is-python3). */
export async function pythonIn(prefix: string): Promise<string | undefined> {
	for (const name of ['python', 'python3']) {
		const path = join(prefix, 'bin', name);
		// Absent (or unreadable): try the next name.
		if (await lstat(path).catch(() => undefined)) return path;
	}
	return undefined;
}

export interface Executable {
	readonly realPath?: string;
	readonly problem?: string;
}

export async function inspectExecutable(python: string): Promise<Executable> {
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
export function versionFromExecutableName(realPath: string | undefined): string | undefined {
	return realPath ? /^python(\d+\.\d+)/.exec(basename(realPath))?.[1] : undefined;
}

export async function versionOfExecutable(python: string): Promise<string | undefined> {
	// A link that does not resolve names no version; versionFromExecutableName then says so.
	return versionFromExecutableName(await realpath(python).catch(() => undefined));
}
