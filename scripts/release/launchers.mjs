/**
 * The commands a user or an admin types, each a small script that runs a bundle on the Node
 * runtime shipped beside it: POSIX sh on Linux and macOS, a .cmd on Windows. These are the only
 * shell scripts, and nothing in the project starts them: people do.
 */
import { chmod, copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runtimeInTree } from './runtime.mjs';

const files = join(dirname(fileURLToPath(import.meta.url)), 'files');

/**
 * bin/<name> (bin/<name>.cmd on Windows) under `root`, running `script` (a path relative to root).
 * @param {import('./platforms.mjs').Platform} platform
 */
export async function writeLauncher(platform, root, name, script) {
	const windows = platform.os === 'win';
	const template = await readFile(join(files, windows ? 'launcher.cmd' : 'launcher.sh'), 'utf8');
	const target = join(root, 'bin', windows ? `${name}.cmd` : name);
	await mkdir(dirname(target), { recursive: true });
	const native = (path) => (windows ? path.replaceAll('/', '\\') : path);
	const text = template.replaceAll('@SCRIPT@', native(script)).replaceAll('@NODE@', native(runtimeInTree(platform)));
	await writeFile(target, windows ? text.replaceAll('\n', '\r\n') : text, { mode: 0o755 });
	await chmod(target, 0o755);
}

/** install.sh at the top of a server folder. */
export async function writeInstallScript(root) {
	await copyFile(join(files, 'install.sh'), join(root, 'install.sh'));
	await chmod(join(root, 'install.sh'), 0o755);
}
