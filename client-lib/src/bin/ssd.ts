#!/usr/bin/env node
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { DEFAULT_PORT, RemoteSession, type HostInfo } from '../session.js';
import { RemoteError } from '../errors.js';
import { keyFingerprint, loadKeyPair, loadOrCreateKeyPair } from '../keys.js';
import { ErrorCodes } from '@spyder-remote/protocol';

const usage = `Usage: ssd <command> HOST[:PORT] --user U [options]

Commands:
  login     log in and report success; with --save-key, register this client's key
  whoami    print the uid, gid, groups and user the session host runs as

Login options:
  --user U            the account to log in as (default: $USER)
  --password-stdin    read the password from the first line of standard input
                      (without it: this client's key, else a password prompt on a terminal)
  --save-key          after logging in, register this client's Ed25519 key for key logins
  --fingerprint F     expect this certificate fingerprint (SHA256:...) and pin it
  --accept-new        trust and pin the certificate of a server seen for the first time
  --json              machine-readable output on stdout
  -h, --help          this text

Exit status: 0 success, 1 failure, 2 usage error.
Files: $SPYDER_REMOTE_CONFIG_DIR or ~/.config/spyder-remote (known_hosts, id_ed25519).
`;

class UsageError extends Error {}

export function parseTarget(target: string): { host: string; port: number } {
	const match = /^(?:\[([^\]]+)\]|([^:\s]+))(?::(\d{1,5}))?$/.exec(target);
	if (!match) throw new UsageError(`cannot read ${JSON.stringify(target)} as HOST[:PORT]`);
	const port = match[3] === undefined ? DEFAULT_PORT : Number(match[3]);
	if (port < 1 || port > 65_535) throw new UsageError(`port ${port} is out of range`);
	return { host: (match[1] ?? match[2])!, port };
}

async function readFirstLine(): Promise<string> {
	const lines = createInterface({ input: process.stdin });
	for await (const line of lines) {
		lines.close();
		return line;
	}
	throw new UsageError('--password-stdin was given but standard input is empty');
}

/** Reads a line from the terminal without echoing it. */
function promptHidden(question: string): Promise<string> {
	return new Promise((resolve, reject) => {
		const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
		const write = (rl as unknown as { _writeToOutput: (text: string) => void })._writeToOutput.bind(rl);
		let muted = false;
		(rl as unknown as { _writeToOutput: (text: string) => void })._writeToOutput = (text) => {
			if (!muted) write(text);
		};
		rl.question(question, (answer) => {
			rl.close();
			process.stderr.write('\n');
			resolve(answer);
		});
		muted = true;
		rl.on('SIGINT', () => reject(new Error('interrupted')));
	});
}

function promptYesNo(question: string): Promise<boolean> {
	return new Promise((resolve) => {
		const rl = createInterface({ input: process.stdin, output: process.stderr });
		rl.question(question, (answer) => {
			rl.close();
			resolve(/^y(es)?$/i.test(answer.trim()));
		});
	});
}

interface Flags {
	user: string;
	passwordStdin: boolean;
	saveKey: boolean;
	fingerprint: string | undefined;
	acceptNew: boolean;
	json: boolean;
}

async function openSession(target: string, flags: Flags): Promise<RemoteSession> {
	const { host, port } = parseTarget(target);
	const interactive = process.stdin.isTTY === true && !flags.passwordStdin;
	const session = await RemoteSession.connect({
		host,
		port,
		fingerprint: flags.fingerprint,
		clientInfo: { name: 'ssd', version: '0.1.0' },
		onUnknownHost: async (server: HostInfo) =>
			flags.acceptNew ||
			(interactive &&
				(await promptYesNo(`The authenticity of ${server.host}:${server.port} can't be established.\nIts certificate fingerprint is ${server.fingerprint}.\nTrust it and remember it (yes/no)? `))),
	});
	try {
		if (flags.passwordStdin) {
			await session.loginWithPassword(flags.user, await readFirstLine());
		} else {
			const keyPair = await loadKeyPair();
			const keyWorked =
				keyPair !== undefined &&
				session.initializeResult.capabilities.authMethods.includes('publicKey') &&
				(await session.loginWithKey(flags.user, keyPair).then(
					() => true,
					(error: unknown) => {
						if (error instanceof RemoteError && error.code === ErrorCodes.AuthenticationFailed) return false;
						throw error;
					},
				));
			if (!keyWorked) {
				if (!interactive) throw new UsageError('no usable key for this server; pass --password-stdin');
				await session.loginWithPassword(flags.user, await promptHidden(`${flags.user}@${host}'s password: `));
			}
		}
		return session;
	} catch (error) {
		session.destroy();
		throw error;
	}
}

async function main(argv: string[]): Promise<number> {
	const { values, positionals } = parseArgs({
		args: argv,
		allowPositionals: true,
		options: {
			user: { type: 'string' },
			'password-stdin': { type: 'boolean', default: false },
			'save-key': { type: 'boolean', default: false },
			fingerprint: { type: 'string' },
			'accept-new': { type: 'boolean', default: false },
			json: { type: 'boolean', default: false },
			help: { type: 'boolean', short: 'h' },
		},
	});
	if (values.help) {
		process.stdout.write(usage);
		return 0;
	}
	const [command, target, ...rest] = positionals;
	if (!command || !target || rest.length > 0 || !['login', 'whoami'].includes(command)) throw new UsageError('expected a command and HOST[:PORT]');
	const flags: Flags = {
		user: values.user ?? process.env.USER ?? '',
		passwordStdin: values['password-stdin'],
		saveKey: values['save-key'],
		fingerprint: values.fingerprint,
		acceptNew: values['accept-new'],
		json: values.json,
	};
	if (!flags.user) throw new UsageError('--user is required');
	const print = (human: string, json: unknown) => process.stdout.write(flags.json ? `${JSON.stringify(json)}\n` : `${human}\n`);

	const session = await openSession(target, flags);
	try {
		if (command === 'login') {
			let registered: { fingerprint: string; added: boolean } | undefined;
			if (flags.saveKey) {
				const keyPair = await loadOrCreateKeyPair();
				registered = await session.registerKey(keyPair);
				if (registered.fingerprint !== keyFingerprint(keyPair)) throw new Error('the server registered a different key than the one sent');
			}
			const where = `${session.server.host}:${session.server.port}`;
			print(
				`Logged in to ${where} as ${session.loggedInAs}.${registered ? ` Key ${registered.fingerprint} ${registered.added ? 'registered' : 'was already registered'}: later logins need no password.` : ''}`,
				{ server: where, user: session.loggedInAs, fingerprint: session.server.fingerprint, keyRegistered: registered ?? null },
			);
		} else {
			const who = await session.whoami();
			const groups = who.groups.map((group) => (group.name ? `${group.gid}(${group.name})` : String(group.gid))).join(' ');
			print(`user    ${who.user}\nuid     ${who.uid}\ngid     ${who.gid}\ngroups  ${groups}\nhome    ${who.home}\npid     ${who.pid}`, who);
		}
	} finally {
		await session.close();
	}
	return 0;
}

main(process.argv.slice(2)).then(
	(code) => process.exit(code),
	(error: Error) => {
		const code = (error as NodeJS.ErrnoException).code;
		const usageError = error instanceof UsageError || (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS'));
		const message = error instanceof RemoteError ? `${error.message} (${error.codeName})` : error.message;
		process.stderr.write(`ssd: ${message}\n${usageError ? 'Try ssd --help.\n' : ''}`);
		process.exit(usageError ? 2 : 1);
	},
);
