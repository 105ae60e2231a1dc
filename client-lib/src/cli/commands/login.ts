import { keyFingerprint, loadOrCreateKeyPair } from '../../keys.js';
import type { Command } from '../command.js';

export const login: Command = {
	name: 'login',
	summary: "log in and report success; with --save-key, register this client's key",
	synopsis: 'HOST[:PORT] [--save-key]',
	remote: true,
	options: { 'save-key': { type: 'boolean', default: false } },
	async run({ values, session: open, print }) {
		const session = await open();
		let registered: { fingerprint: string; added: boolean } | undefined;
		if (values['save-key']) {
			const keyPair = await loadOrCreateKeyPair();
			registered = await session.registerKey(keyPair);
			if (registered.fingerprint !== keyFingerprint(keyPair)) throw new Error('the server registered a different key than the one sent');
		}
		const where = `${session.server.host}:${session.server.port}`;
		const keyNote = registered
			? ` Key ${registered.fingerprint} ${registered.added ? 'registered' : 'was already registered'}: later logins need no password.`
			: '';
		print(`Logged in to ${where} as ${session.loggedInAs}.${keyNote}`, {
			server: where,
			user: session.loggedInAs,
			fingerprint: session.server.fingerprint,
			keyRegistered: registered ?? null,
		});
	},
};
