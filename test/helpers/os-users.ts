import { randomBytes, randomInt } from 'node:crypto';
import { chmod } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { TestFn } from 'ava';
import { execa } from 'execa';
import { runsAsRoot } from '@spyder-remote/server';

export interface TestUser {
	name: string;
	password: string;
	uid: number;
	gid: number;
	home: string;
	/** Supplementary gids (the primary gid is not repeated here). */
	groups: number[];
	supplementaryGroup: string;
}

export interface TestUserOptions {
	expired?: boolean;
}

export const isRoot = runsAsRoot();

// userdel refuses (exit 8) while killed processes of the user are still being reaped.
const USERDEL_USER_BUSY = 8;

async function getent(database: 'passwd' | 'group', key: string): Promise<string[] | undefined> {
	const { exitCode, stdout } = await execa('getent', [database, key], { reject: false });
	return exitCode === 0 ? stdout.trim().split(':') : undefined;
}

/**
 * Test users get a random uid from a range of their own, not useradd's next
 * free one. The Debian roots (scripts/debian-root.mjs) have a passwd of
 * their own but share this machine's processes, so the first user made in
 * a root and the first made here would both get 1001, say; removing either
 * (`pkill -u`, below) then killed the other's session host and kernels in
 * the middle of its test. The range is above what useradd hands out on a
 * machine with a few accounts and within UID_MAX (60000): lastlog and
 * faillog are indexed by uid, and a huge uid makes huge (if sparse) files.
 */
const TEST_UID_MIN = 10_000;
const TEST_UID_COUNT = 50_000;
// useradd's exit code when the uid is taken in this passwd.
const USERADD_UID_IN_USE = 4;

async function addUser(name: string, supplementaryGroup: string): Promise<void> {
	for (let attempt = 0; ; attempt++) {
		const uid = TEST_UID_MIN + randomInt(TEST_UID_COUNT);
		const { exitCode, stderr } = await execa('useradd', ['--create-home', '--shell', '/bin/bash', '--groups', supplementaryGroup, '--uid', String(uid), name], {
			reject: false,
		});
		if (exitCode === 0) return;
		if (exitCode !== USERADD_UID_IN_USE || attempt >= 5) throw new Error(`useradd ${name} failed (exit ${exitCode}): ${stderr}`);
	}
}

export async function createTestUser(options: TestUserOptions = {}): Promise<TestUser> {
	const suffix = randomBytes(4).toString('hex');
	const name = `ssdt_${suffix}`;
	const supplementaryGroup = `ssdtg_${suffix}`;
	// base64url never contains ':' or newlines, which chpasswd's input format cannot carry.
	const password = randomBytes(18).toString('base64url');

	try {
		await execa('groupadd', [supplementaryGroup]);
		await addUser(name, supplementaryGroup);
		await execa('chpasswd', [], { input: `${name}:${password}\n` });
		if (options.expired) await execa('chage', ['--expiredate', '1', name]);

		const passwd = await getent('passwd', name);
		const group = await getent('group', supplementaryGroup);
		if (!passwd || !group) throw new Error(`${name} or ${supplementaryGroup} is missing right after creation`);
		const [, , uid, gid, , home] = passwd as [string, string, string, string, string, string];
		// useradd applies the system umask (022 on Debian); session code expects private homes.
		await chmod(home, 0o750);
		return {
			name,
			password,
			uid: Number(uid),
			gid: Number(gid),
			home,
			groups: [Number(group[2])],
			supplementaryGroup,
		};
	} catch (err) {
		await removeAccount(name, supplementaryGroup);
		throw err;
	}
}

async function removeAccount(name: string, supplementaryGroup: string): Promise<void> {
	if (await getent('passwd', name)) {
		await execa('pkill', ['-KILL', '-u', name], { reject: false });
		for (let attempt = 0; ; attempt++) {
			const { exitCode, stderr } = await execa('userdel', ['--remove', name], { reject: false });
			if (!(await getent('passwd', name))) break;
			if (exitCode !== USERDEL_USER_BUSY || attempt >= 50) {
				throw new Error(`userdel ${name} failed (exit ${exitCode}): ${stderr}`);
			}
			await sleep(100);
		}
	}
	if (await getent('group', supplementaryGroup)) await execa('groupdel', [supplementaryGroup]);
}

/** Removes the user, its home, its private group and its supplementary group; a no-op if already gone. */
export async function deleteTestUser(user: TestUser): Promise<void> {
	await removeAccount(user.name, user.supplementaryGroup);
}

/**
 * Returns a `createTestUser` whose users are all deleted in an `after.always` hook, so they
 * do not pile up in /etc/passwd when a test fails or times out.
 */
export function withTestUsers<Context>(test: TestFn<Context>): (options?: TestUserOptions) => Promise<TestUser> {
	const users: TestUser[] = [];
	test.after.always('delete test users', async () => {
		const failures: unknown[] = [];
		// One at a time: the shadow tools serialise on a global lock anyway.
		for (const user of users) await deleteTestUser(user).catch((err: unknown) => failures.push(err));
		if (failures.length) throw new AggregateError(failures, 'some test users could not be deleted');
	});
	return async (options) => {
		const user = await createTestUser(options);
		users.push(user);
		return user;
	};
}
