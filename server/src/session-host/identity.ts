import { userInfo } from 'node:os';
import { execa } from 'execa';
import type { WhoamiResult } from '@spyder-remote/protocol';

/**
 * The credentials this process actually runs with. Group names come from
 * NSS (getent), looked up once: a process's groups do not change.
 */
export async function describeSelf(): Promise<WhoamiResult> {
	const gid = process.getgid!();
	const gids = [...new Set([gid, ...process.getgroups!()])];
	const names = new Map<number, string>();
	const lookup = await execa('getent', ['group', ...gids.map(String)], { reject: false, timeout: 10_000 });
	for (const line of lookup.stdout.split('\n')) {
		const [name, , id] = line.split(':');
		if (name && id) names.set(Number(id), name);
	}
	const info = userInfo();
	return {
		user: info.username,
		uid: process.getuid!(),
		gid,
		groups: gids.map((id) => (names.has(id) ? { gid: id, name: names.get(id)! } : { gid: id })),
		home: info.homedir,
		pid: process.pid,
	};
}
