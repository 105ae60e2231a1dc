import { readFile } from 'node:fs/promises';
import type { AppLocation } from './app-tree.js';
import { InstallError } from './install-error.js';
import { CONFIG_FILE, shippedUnitTemplate } from './locations.js';

/** Ports below this need CAP_NET_BIND_SERVICE. */
const firstUnprivilegedPort = 1024;

/** systemd splits ExecStart= at spaces and expands % and $: a path with any of them would start something else. */
function unitWord(path: string): string {
	if (!/^\/[A-Za-z0-9._+/@-]+$/.test(path))
		throw new InstallError(`${path} cannot be written into a unit file as it is: move the app to a path without spaces or special characters`);
	return path;
}

/** The unit file for this app and port, from the shipped template. */
export async function renderUnit(app: AppLocation, port: number): Promise<string> {
	const template = await readFile(shippedUnitTemplate, 'utf8');
	return template
		.replace('@NODE@', unitWord(app.node))
		.replace('@ENTRY@', unitWord(app.entry))
		.replace('@CONFIG@', unitWord(CONFIG_FILE))
		.replace('@EXTRA_CAPABILITIES@', port > 0 && port < firstUnprivilegedPort ? ' CAP_NET_BIND_SERVICE' : '');
}
