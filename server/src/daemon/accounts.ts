import { execa } from 'execa';

export interface Account {
	readonly name: string;
	readonly uid: number;
	readonly gid: number;
	readonly home: string;
}

/**
 * Looks an account up through NSS (getent), so LDAP and sssd users work as
 * well as /etc/passwd ones. Undefined when there is no such user.
 */
export async function lookupAccount(name: string): Promise<Account | undefined> {
	const account = await getentPasswd(name);
	return account?.name === name ? account : undefined;
}

/** The account of a uid, the same way; getent takes a number as a uid. */
export async function lookupAccountByUid(uid: number): Promise<Account | undefined> {
	const account = await getentPasswd(String(uid));
	return account?.uid === uid ? account : undefined;
}

async function getentPasswd(key: string): Promise<Account | undefined> {
	const result = await execa('getent', ['passwd', '--', key], { reject: false, timeout: 10_000 });
	if (result.exitCode !== 0) return undefined;
	const fields = result.stdout.split('\n')[0]!.split(':');
	if (fields.length < 7) return undefined;
	const uid = Number(fields[2]);
	const gid = Number(fields[3]);
	if (!Number.isInteger(uid) || !Number.isInteger(gid)) return undefined;
	return { name: fields[0]!, uid, gid, home: fields[5]! };
}
