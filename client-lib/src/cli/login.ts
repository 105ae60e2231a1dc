import { ErrorCodes } from '@spyder-remote/protocol';
import { RemoteError } from '../errors.js';
import { configuredHosts } from '../hosts.js';
import { loadKeyPair } from '../keys.js';
import { DEFAULT_PORT, RemoteSession } from '../session.js';
import type { HostInfo } from '../tls-connection.js';
import { CLIENT_VERSION } from '../version.js';
import { UsageError, type OptionSpec } from './command.js';
import { promptHidden, promptYesNo, readPasswordFromStdin } from './prompt.js';

export const loginOptions: OptionSpec = {
	user: { type: 'string' },
	'password-stdin': { type: 'boolean', default: false },
	fingerprint: { type: 'string' },
	'accept-new': { type: 'boolean', default: false },
};

export const loginHelp = `Login options (every remote command):
  HOST[:PORT] may also be a NAME from the hosts file in the config directory.
  --user U            the account to log in as (default: $USER)
  --password-stdin    read the password from the first line of standard input
                      (without it: this client's key, else a password prompt on a terminal)
  --fingerprint F     expect this certificate fingerprint (SHA256:...) and pin it
  --accept-new        trust and pin the certificate of a server seen for the first time`;

export function parseTarget(target: string): { host: string; port: number } {
	const match = /^(?:\[([^\]]+)\]|([^:\s[\]]+))(?::(\d{1,5}))?$/.exec(target);
	if (!match) throw new UsageError(`cannot read ${JSON.stringify(target)} as HOST[:PORT]`);
	const port = match[3] === undefined ? DEFAULT_PORT : Number(match[3]);
	if (port < 1 || port > 65_535) throw new UsageError(`port ${port} is out of range`);
	return { host: (match[1] ?? match[2])!, port };
}

/**
 * Connects and logs in the way ssh does: the key first when there is one,
 * then the password from stdin or a terminal prompt.
 */
export async function loginFromFlags(target: string, values: Record<string, unknown>): Promise<RemoteSession> {
	const { host, port } = (await configuredHosts()).find((configured) => configured.name === target) ?? parseTarget(target);
	const user = (values.user as string | undefined) ?? process.env.USER;
	if (!user) throw new UsageError('--user is required');
	const passwordStdin = values['password-stdin'] === true;
	const interactive = process.stdin.isTTY === true && !passwordStdin;
	const session = await RemoteSession.connect({
		host,
		port,
		fingerprint: values.fingerprint as string | undefined,
		clientInfo: { name: 'ssd', version: CLIENT_VERSION },
		onUnknownHost: async (server: HostInfo) =>
			values['accept-new'] === true ||
			(interactive &&
				(await promptYesNo(
					`The authenticity of ${server.host}:${server.port} can't be established.\nIts certificate fingerprint is ${server.fingerprint}.\nTrust it and remember it (yes/no)? `,
				))),
	});
	const banner = session.initializeResult.banner;
	// As ssh does: before any login, on stderr, so that output piped from a command stays clean.
	if (banner) process.stderr.write(printableBanner(banner));
	try {
		if (passwordStdin) {
			const password = await readPasswordFromStdin();
			if (password === undefined) throw new UsageError('--password-stdin was given but standard input is empty');
			await session.loginWithPassword(user, password);
			return session;
		}
		const keyPair = await loadKeyPair();
		if (keyPair && session.initializeResult.capabilities.authMethods.includes('publicKey')) {
			const loggedIn = await session.loginWithKey(user, keyPair).then(
				() => true,
				(error: unknown) => {
					if (error instanceof RemoteError && error.code === ErrorCodes.AuthenticationFailed) return false;
					throw error;
				},
			);
			if (loggedIn) return session;
		}
		if (!interactive) throw new UsageError('no usable key for this server; pass --password-stdin');
		await session.loginWithPassword(user, await promptHidden(`${user}@${host}'s password: `));
		return session;
	} catch (error) {
		session.destroy();
		throw error;
	}
}

/**
 * The server's banner with terminal control characters (escape sequences,
 * carriage returns, C1 controls) shown as `\xNN`: it is the server's text,
 * and must not rewrite what the terminal shows, such as the prompt that follows.
 */
export function printableBanner(banner: string): string {
	// Matching control characters is the point here.
	// eslint-disable-next-line no-control-regex
	const text = banner.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
	return text.endsWith('\n') ? text : `${text}\n`;
}
