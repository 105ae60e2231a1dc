import { copyFile, readFile, rm } from 'node:fs/promises';
import { PAM_SERVICE_FILE, shippedPamServiceFile } from './locations.js';

const contents = (path: string) => readFile(path).catch(() => undefined);

/**
 * Installs the shipped PAM service file unless one is there. An
 * administrator's edits are kept; an older shipped file may lack the
 * account and session stacks of today's, so a difference is reported.
 */
export async function installPamService(): Promise<string> {
	const installed = await contents(PAM_SERVICE_FILE);
	if (!installed) {
		await copyFile(shippedPamServiceFile, PAM_SERVICE_FILE);
		return `installed PAM service ${PAM_SERVICE_FILE}`;
	}
	const differs = !installed.equals((await contents(shippedPamServiceFile))!);
	return `kept PAM service ${PAM_SERVICE_FILE}${differs ? ` (it differs from the shipped ${shippedPamServiceFile}; compare them)` : ''}`;
}

/** Removes the PAM service file if it is the shipped one; an edited one is the administrator's, and goes only with `purge`. */
export async function removePamService(purge: boolean): Promise<string> {
	const installed = await contents(PAM_SERVICE_FILE);
	if (!installed) return `no PAM service ${PAM_SERVICE_FILE}`;
	if (!purge && !installed.equals((await contents(shippedPamServiceFile))!)) return `kept the edited PAM service ${PAM_SERVICE_FILE} (--purge removes it)`;
	await rm(PAM_SERVICE_FILE);
	return `removed PAM service ${PAM_SERVICE_FILE}`;
}
