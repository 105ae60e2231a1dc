import koffi from 'koffi';
import { callAsync, loadLibrary, type NativeFunction } from '../common/native.js';

export interface Account {
	readonly name: string;
	readonly uid: number;
	readonly gid: number;
	readonly home: string;
	/** The login shell; empty when the entry names none. */
	readonly shell: string;
}

// glibc's errno values on Linux (asm-generic/errno-base.h).
const ERANGE = 34;
const EINTR = 4;
/** NSS entries (LDAP groups with thousands of members) can be large; past this an entry is refused. */
const maxBufferBytes = 1024 * 1024;
const initialBufferBytes = 16 * 1024;
const initialGroupCount = 64;
const maxGroupCount = 65_536;

interface Bindings {
	getpwnam_r: NativeFunction;
	getpwuid_r: NativeFunction;
	getgrnam_r: NativeFunction;
	getspnam_r: NativeFunction;
	getgrouplist: NativeFunction;
}

let bindings: Bindings | undefined;

function load(): Bindings {
	if (bindings) return bindings;
	// Anonymous types: koffi's type names are process-global and could clash with other users.
	const passwdType = koffi.struct({
		pw_name: 'char *',
		pw_passwd: 'char *',
		pw_uid: 'uint32',
		pw_gid: 'uint32',
		pw_gecos: 'char *',
		pw_dir: 'char *',
		pw_shell: 'char *',
	});
	const groupType = koffi.struct({ gr_name: 'char *', gr_passwd: 'char *', gr_gid: 'uint32', gr_mem: 'void *' });
	const shadowType = koffi.struct({
		sp_namp: 'char *',
		sp_pwdp: 'char *',
		sp_lstchg: 'long',
		sp_min: 'long',
		sp_max: 'long',
		sp_warn: 'long',
		sp_inact: 'long',
		sp_expire: 'long',
		sp_flag: 'unsigned long',
	});
	const libc = loadLibrary('libc.so.6');
	const reentrant = (name: string, type: koffi.IKoffiCType, key: string) =>
		libc.func(name, 'int', [key, koffi.out(koffi.pointer(type)), 'void *', 'size_t', koffi.out(koffi.pointer('void *'))]);
	bindings = {
		getpwnam_r: reentrant('getpwnam_r', passwdType, 'const char *'),
		getpwuid_r: reentrant('getpwuid_r', passwdType, 'uint32'),
		getgrnam_r: reentrant('getgrnam_r', groupType, 'const char *'),
		getspnam_r: reentrant('getspnam_r', shadowType, 'const char *'),
		getgrouplist: libc.func('getgrouplist', 'int', ['const char *', 'uint32', 'uint32 *', koffi.inout(koffi.pointer('int'))]),
	};
	return bindings;
}

/**
 * One NSS `get*_r` call, off the main thread (an LDAP or sssd backend can
 * block for seconds), growing the buffer while NSS says it is too small.
 * Undefined when there is no such entry or NSS fails.
 */
async function nssEntry<T>(fn: NativeFunction, key: string | number): Promise<T | undefined> {
	for (let size = initialBufferBytes; size <= maxBufferBytes; ) {
		const entry: [T | undefined] = [undefined];
		const found: [unknown] = [null];
		const status = await callAsync(fn, key, entry, Buffer.alloc(size), size, found);
		if (status === ERANGE) size *= 2;
		else if (status !== EINTR) return status === 0 && found[0] ? entry[0] : undefined;
	}
	return undefined;
}

interface PasswdEntry {
	pw_name: string;
	pw_uid: number;
	pw_gid: number;
	pw_dir: string;
	pw_shell: string | null;
}

const toAccount = (entry: PasswdEntry | undefined): Account | undefined =>
	entry && { name: entry.pw_name, uid: entry.pw_uid, gid: entry.pw_gid, home: entry.pw_dir, shell: entry.pw_shell ?? '' };

/** C strings end at the first NUL: "root\0x" would be looked up as "root". */
const isCName = (name: string) => name.length > 0 && !name.includes('\0');

/**
 * Looks an account up through NSS (getpwnam_r), so LDAP and sssd users work
 * as well as /etc/passwd ones, without spawning anything: a spawn per login
 * costs milliseconds and fails once descriptors run out. Undefined when
 * there is no such user.
 */
export async function lookupAccount(name: string): Promise<Account | undefined> {
	if (!isCName(name)) return undefined;
	const account = toAccount(await nssEntry<PasswdEntry>(load().getpwnam_r, name));
	return account?.name === name ? account : undefined;
}

/** The account of a uid, the same way. */
export async function lookupAccountByUid(uid: number): Promise<Account | undefined> {
	if (!Number.isInteger(uid) || uid < 0 || uid > 0xffff_ffff) return undefined;
	return toAccount(await nssEntry<PasswdEntry>(load().getpwuid_r, uid));
}

/** A group's gid by name through NSS; undefined when there is no such group. */
export async function lookupGroupId(name: string): Promise<number | undefined> {
	if (!isCName(name)) return undefined;
	return (await nssEntry<{ gr_gid: number }>(load().getgrnam_r, name))?.gr_gid;
}

/** Every gid the account is in: its primary group and, through NSS, its supplementary groups. */
export async function accountGroupIds(account: Account): Promise<number[]> {
	const b = load();
	for (let capacity = initialGroupCount; capacity <= maxGroupCount; ) {
		const groups = new Uint32Array(capacity);
		const count = [capacity];
		// -1 means the array was too small; count then says how many there are.
		if ((await callAsync(b.getgrouplist, account.name, account.gid, groups, count)) >= 0) return [...groups.subarray(0, count[0])];
		capacity = Math.max(capacity * 2, count[0]!);
	}
	return [account.gid];
}

/**
 * Whether the account's password is locked (`usermod -L`, `passwd -l`: the
 * shadow hash starts with '!'). False when the shadow entry cannot be read,
 * as for a daemon that is not root or an NSS source without shadow data.
 */
export async function isPasswordLocked(name: string): Promise<boolean> {
	if (!isCName(name)) return false;
	const entry = await nssEntry<{ sp_pwdp: string | null }>(load().getspnam_r, name);
	return entry?.sp_pwdp?.startsWith('!') ?? false;
}
