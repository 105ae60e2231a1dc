import type { Command } from '../command.js';

export const whoami: Command = {
	name: 'whoami',
	summary: 'print the uid, gid, groups and user the session host runs as',
	synopsis: 'HOST[:PORT]',
	remote: true,
	async run({ session, print }) {
		const who = await (await session()).whoami();
		const groups = who.groups.map((group) => (group.name ? `${group.gid}(${group.name})` : String(group.gid))).join(' ');
		print(`user    ${who.user}\nuid     ${who.uid}\ngid     ${who.gid}\ngroups  ${groups}\nhome    ${who.home}\npid     ${who.pid}`, who);
	},
};
