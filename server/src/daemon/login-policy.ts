import { readFile, stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { readRegularText } from '../common/bounded-file.js';
import type { ServerConfig } from './config.js';
import { accountGroupIds, isPasswordLocked, lookupGroupId, type Account } from './accounts.js';

/** A banner is a greeting, not a document; past this the daemon refuses to start. */
export const MAX_BANNER_BYTES = 8 * 1024;
/** Shells that exist to refuse a login; listed in /etc/shells or not, they mean "no". */
const refusingShells = new Set(['nologin', 'false']);

export interface LoginScope {
	/** System mode serves every account; personal mode only its own. */
	readonly system: boolean;
	readonly ownUid: number;
}

/**
 * Decides, after authentication, whether an account may log in at all, in
 * OpenSSH's order: root, the login shell, DenyUsers, AllowUsers, DenyGroups,
 * AllowGroups. Resolves the reason for a refusal (for the log only: the
 * client gets the answer of a wrong password), or undefined.
 */
export function loginPolicy(auth: ServerConfig['auth'], scope: LoginScope): (account: Account) => Promise<string | undefined> {
	const denyUsers = new Set(auth.denyUsers);
	const allowUsers = new Set(auth.allowUsers);
	const checksGroups = auth.denyGroups.length > 0 || auth.allowGroups.length > 0;
	return async (account) => {
		if (account.uid === 0 && !auth.permitRoot) return 'root login is not permitted (auth.permitRoot)';
		if (!scope.system && account.uid !== scope.ownUid) return "personal mode serves only the server's own account";
		if (!auth.permitNoShell) {
			const problem = await shellProblem(account.shell);
			if (problem) return `${problem} (auth.permitNoShell)`;
		}
		// sshd with UsePAM lets a locked account in with a key; labs lock accounts to disable them.
		if (await isPasswordLocked(account.name)) return 'the account is locked (usermod -L)';
		if (denyUsers.has(account.name)) return 'the user is in auth.denyUsers';
		if (allowUsers.size > 0 && !allowUsers.has(account.name)) return 'the user is not in auth.allowUsers';
		if (!checksGroups) return undefined;
		// Group names are resolved per login: NSS groups (LDAP, sssd) change while the daemon runs.
		const memberOf = new Set(await accountGroupIds(account));
		const inAny = async (names: readonly string[]) => {
			for (const name of names) {
				const gid = await lookupGroupId(name);
				if (gid !== undefined && memberOf.has(gid)) return true;
			}
			return false;
		};
		if (await inAny(auth.denyGroups)) return 'the user is in a group of auth.denyGroups';
		if (auth.allowGroups.length > 0 && !(await inAny(auth.allowGroups))) return 'the user is in no group of auth.allowGroups';
		return undefined;
	};
}

/** Why `shell` is no login shell, as sshd sees it, or undefined when it is one. */
async function shellProblem(shell: string): Promise<string | undefined> {
	if (!shell) return 'the account has no login shell';
	if (refusingShells.has(basename(shell))) return `the login shell ${shell} refuses logins`;
	if (!(await listedShells()).has(shell)) return `the login shell ${shell} is not in /etc/shells`;
	// A shell that cannot be stat'ed is the refusal below, with its reason.
	const file = await stat(shell).catch(() => undefined);
	if (!file?.isFile() || (file.mode & 0o111) === 0) return `the login shell ${shell} does not exist or is not executable`;
	return undefined;
}

/** Read at every login, so an administrator's edit counts at once; it is root's file and short. */
async function listedShells(): Promise<Set<string>> {
	const text = await readFile('/etc/shells', 'utf8').catch(() => '');
	return new Set(
		text
			.split('\n')
			.map((line) => line.trim())
			.filter((line) => line.startsWith('/')),
	);
}

/**
 * The banner file's text, read once at start. Only a regular file of at
 * most MAX_BANNER_BYTES is taken: a FIFO or a huge file must not stall or
 * bloat the daemon, so anything else stops it with a clear error.
 */
export async function readBannerFile(path: string): Promise<string> {
	// The administrator's own file (root wrote the config that names it), so a link is followed.
	return readRegularText(path, { maxBytes: MAX_BANNER_BYTES, followSymlink: true }).catch((error: Error) => {
		throw new Error(`auth.bannerFile ${path}: ${error.message}`);
	});
}
