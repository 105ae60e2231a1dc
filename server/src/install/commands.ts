import { lstat, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { HOST_SOCKET_NAME, kernelsDirectory } from '../common/runtime-layout.js';
import { lookupAccountByUid } from '../daemon/accounts.js';
import { certificateFingerprint, defaultCertificatePaths, ensureIdentity } from '../daemon/certificate.js';
import { loadConfigFile, resolveConfig, type ServerConfig } from '../daemon/config.js';
import { placeApp, removeAppCopy } from './app-tree.js';
import { InstallError } from './install-error.js';
import { CONFIG_DIRECTORY, CONFIG_FILE, SERVICE_NAME, UNIT_FILE } from './locations.js';
import { installPamService, removePamService } from './pam-service.js';
import { requireSystemd, serviceState, systemctl } from './service.js';
import { renderUnit } from './unit.js';

export interface InstallOptions {
	readonly host?: string | undefined;
	readonly port?: number | undefined;
	readonly certFile?: string | undefined;
	readonly keyFile?: string | undefined;
}

type Say = (line: string) => void;

const exists = (path: string) =>
	lstat(path).then(
		() => true,
		() => false,
	);

function requireRoot(command: string): void {
	if (process.geteuid?.() !== 0) throw new InstallError(`ssd-server ${command} must run as root: it sets up a system service`);
}

/** The installed config, validated, or undefined if there is none. */
async function installedConfig(): Promise<ServerConfig | undefined> {
	return (await exists(CONFIG_FILE)) ? resolveConfig(await loadConfigFile(CONFIG_FILE)) : undefined;
}

/** Writes a new config from the options, validated before it is written; an existing one is the administrator's and is kept. */
async function ensureConfig(options: InstallOptions, say: Say): Promise<ServerConfig> {
	const kept = await installedConfig();
	if (kept) {
		const ignored = Object.entries(options)
			.filter(([, value]) => value !== undefined)
			.map(([key]) => key);
		say(`kept config ${CONFIG_FILE}${ignored.length ? ` (${ignored.join(', ')} not applied: edit the file, then systemctl restart ${SERVICE_NAME})` : ''}`);
		return kept;
	}
	if ((options.certFile === undefined) !== (options.keyFile === undefined)) throw new InstallError('give both --cert and --key, or neither');
	const file = {
		mode: 'system',
		...(options.host !== undefined || options.port !== undefined
			? { listen: { ...(options.host !== undefined ? { host: options.host } : {}), ...(options.port !== undefined ? { port: options.port } : {}) } }
			: {}),
		...(options.certFile !== undefined ? { tls: { certFile: options.certFile, keyFile: options.keyFile } } : {}),
	};
	const config = resolveConfig(file);
	// The certificate must load before anything is written: a wrong --cert stops here.
	if (config.tls.certFile) certificateFingerprint(await readFile(config.tls.certFile, 'utf8'));
	await mkdir(CONFIG_DIRECTORY, { recursive: true, mode: 0o755 });
	await writeFile(CONFIG_FILE, `${JSON.stringify(file, null, '\t')}\n`, { flag: 'wx', mode: 0o644 });
	say(`wrote config ${CONFIG_FILE}`);
	return config;
}

/** `ssd-server install`: config, state, certificate, PAM service, unit; then the service is enabled and started. Twice changes nothing. */
export async function install(options: InstallOptions, say: Say): Promise<void> {
	requireRoot('install');
	await requireSystemd();
	const config = await ensureConfig(options, say);
	const identity = await ensureIdentity({
		stateDir: config.stateDir,
		certFile: config.tls.certFile,
		keyFile: config.tls.keyFile,
		hostnames: config.tls.hostnames,
	});
	say(`${identity.created ? 'created' : 'kept'} certificate ${identity.certFile}`);
	say(await installPamService());
	const app = await placeApp();
	if (app.copiedTo) say(`copied the app to ${app.copiedTo}, where only root can write`);
	const unit = await renderUnit(app, config.listen.port);
	const changed = (await readFile(UNIT_FILE, 'utf8').catch(() => undefined)) !== unit;
	if (changed) {
		await writeFile(UNIT_FILE, unit, { mode: 0o644 });
		await systemctl(['daemon-reload']);
	}
	say(`${changed ? 'wrote' : 'kept'} unit ${UNIT_FILE}`);
	await systemctl(['enable', '--quiet', SERVICE_NAME]);
	// A changed unit (an upgrade) restarts a running service, which hands its kernels over; otherwise start is a no-op when it runs.
	await systemctl([changed ? 'restart' : 'start', SERVICE_NAME]);
	say(`${SERVICE_NAME} is ${await serviceState()} and enabled`);
	const host = ['0.0.0.0', '::'].includes(config.listen.host) ? hostname() : config.listen.host;
	say(`certificate fingerprint: ${identity.fingerprint}`);
	say(`connect with: npx ssd login ${host.includes(':') ? `[${host}]` : host}:${config.listen.port} --user USER --fingerprint ${identity.fingerprint}`);
}

/** `ssd-server uninstall [--purge]`: stops and removes the service and what install made; --purge also the state and the config. */
export async function uninstall(purge: boolean, say: Say): Promise<void> {
	requireRoot('uninstall');
	// Without systemd nothing was installed by install: the PAM file there may be `init`'s or another setup's.
	await requireSystemd();
	const config = await installedConfig().catch(() => undefined);
	if (await exists(UNIT_FILE)) {
		// A stop, not a restart: the daemon stops every session host and kernel; systemd then removes the runtime directory.
		await systemctl(['disable', '--now', '--quiet', SERVICE_NAME], false);
		await rm(UNIT_FILE);
		await systemctl(['daemon-reload'], false);
		await systemctl(['reset-failed', SERVICE_NAME], false);
		say(`stopped, disabled and removed ${SERVICE_NAME}`);
	}
	say(await removePamService(purge));
	const copy = await removeAppCopy();
	if (copy) say(copy);
	const stateDir = (config ?? resolveConfig({ mode: 'system' })).stateDir;
	if (purge) {
		await rm(stateDir, { recursive: true, force: true });
		await rm(CONFIG_DIRECTORY, { recursive: true, force: true });
		say(`removed ${stateDir} and ${CONFIG_DIRECTORY}`);
	} else {
		say(`kept ${CONFIG_DIRECTORY} and ${stateDir} (--purge removes them)`);
	}
}

/**
 * Users with a session host or kernels, from the runtime directory: root
 * only lists names there (as the daemon does), it opens nothing a user owns.
 */
async function sessionsIn(runtimeDir: string): Promise<string[]> {
	const sessions = join(runtimeDir, 'sessions');
	const lines: string[] = [];
	for (const name of await readdir(sessions).catch(() => [])) {
		if (!/^(0|[1-9]\d{0,9})$/.test(name)) continue;
		const directory = join(sessions, name);
		const hosts = (await readdir(directory).catch(() => [])).filter((entry) => HOST_SOCKET_NAME.test(entry)).length;
		const kernels = (await readdir(kernelsDirectory(directory)).catch(() => [])).length;
		if (hosts + kernels === 0) continue;
		const user = (await lookupAccountByUid(Number(name)))?.name ?? `uid ${name}`;
		lines.push(`  ${user}: ${hosts ? 'session host' : 'no session host'}, ${kernels} kernel${kernels === 1 ? '' : 's'}`);
	}
	return lines;
}

/** `ssd-server status`: whether the service runs, where its config is, and which users have session hosts and kernels. */
export async function status(say: Say): Promise<number> {
	const state = await serviceState();
	const enabled = (await systemctl(['is-enabled', SERVICE_NAME], false)).stdout || 'not installed';
	say(`service ${SERVICE_NAME}: ${state} (${enabled})`);
	const config = await installedConfig();
	if (!config) {
		say(`config: none at ${CONFIG_FILE}`);
		return state === 'active' ? 0 : 3;
	}
	say(`config: ${CONFIG_FILE} (listen ${config.listen.host}:${config.listen.port}, state ${config.stateDir}, runtime ${config.runtimeDir})`);
	const certFile = config.tls.certFile ?? defaultCertificatePaths(config.stateDir).certFile;
	const cert = await readFile(certFile, 'utf8').catch(() => undefined);
	say(cert ? `certificate: ${certFile} (${certificateFingerprint(cert)})` : `certificate: none at ${certFile}`);
	const users = await sessionsIn(config.runtimeDir);
	say(users.length ? `users:\n${users.join('\n')}` : 'users: none with a session host or kernels');
	// As systemctl status: 0 when it runs, 3 when it does not.
	return state === 'active' ? 0 : 3;
}
