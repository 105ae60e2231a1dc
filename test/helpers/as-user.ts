import { execa, type Options } from 'execa';
import { asUser } from '../../server/src/common/child-process.js';
import type { TestUser } from './os-users.js';

/** Runs a program as the test user, the way the server starts session hosts: real ids, groups, clean environment. */
export function runAs(user: TestUser, file: string, args: readonly string[], options: Options = {}) {
	const [setpriv, ...setprivArgs] = asUser(user, 'login', [file, ...args]);
	return execa(setpriv!, setprivArgs, { cwd: user.home, ...options });
}

/** Writes a file as the user (so ownership and modes are the user's own), making parent directories. */
export async function writeAs(user: TestUser, path: string, content: string): Promise<void> {
	await runAs(user, '/usr/bin/mkdir', ['-p', '--', path.slice(0, path.lastIndexOf('/'))]);
	await runAs(user, '/usr/bin/tee', ['--', path], { input: content, stdout: 'ignore' });
}
