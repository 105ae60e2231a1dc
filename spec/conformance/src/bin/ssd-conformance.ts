#!/usr/bin/env node
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { DEFAULT_PORT } from '@spyder-remote/protocol';
import { formatReport, runConformance, TOOL_VERSION, UntrustedServerError } from '../main.js';

const usage = `Usage: ssd-conformance --host HOST [--port PORT] --user USER --password-stdin [--fingerprint SHA256:…] [--json]

Checks a spyder-remote server over the wire against the specification (spec/README.md),
one check per rule, each naming its section. It logs in as USER, and while it runs it
creates and removes a venv and starts and stops a kernel as that user.

Options:
  --host HOST          the server's name or address
  --port PORT          its port (default ${DEFAULT_PORT})
  --user USER          an account that may log in with a password
  --password-stdin     read that account's password from the first line of standard input
  --fingerprint F      the certificate fingerprint the server must present (ssd-server fingerprint
                       prints it); without it, a CA must vouch for the certificate
  --json               print the report as one JSON document
  -h, --help           this text
  -v, --version        the version

Exit status: 0 when no check failed, 1 when one did, 2 on a usage error or when the
server cannot be reached or trusted.`;

function fail(message: string): never {
	process.stderr.write(`ssd-conformance: ${message}\n`);
	process.exit(2);
}

/** The first line of standard input, without its line ending. */
function readPassword(): Promise<string> {
	return new Promise((resolve, reject) => {
		const lines = createInterface({ input: process.stdin });
		let answered = false;
		lines.once('line', (line) => {
			answered = true;
			lines.close();
			process.stdin.destroy();
			resolve(line);
		});
		lines.once('close', () => {
			if (!answered) reject(new Error('standard input ended before a password line'));
		});
	});
}

async function main(): Promise<number> {
	let parsed;
	try {
		parsed = parseArgs({
			options: {
				host: { type: 'string' },
				port: { type: 'string', default: String(DEFAULT_PORT) },
				user: { type: 'string' },
				'password-stdin': { type: 'boolean', default: false },
				fingerprint: { type: 'string' },
				json: { type: 'boolean', default: false },
				help: { type: 'boolean', short: 'h', default: false },
				version: { type: 'boolean', short: 'v', default: false },
			},
			strict: true,
		}).values;
	} catch (error) {
		fail(`${(error as Error).message}\n\n${usage}`);
	}
	if (parsed.help) {
		process.stdout.write(`${usage}\n`);
		return 0;
	}
	if (parsed.version) {
		process.stdout.write(`${TOOL_VERSION}\n`);
		return 0;
	}
	const port = Number(parsed.port);
	if (!parsed.host) fail('--host is required');
	if (!Number.isInteger(port) || port < 1 || port > 65535) fail(`--port ${parsed.port} is not a port number`);
	if (!parsed.user) fail('--user is required');
	// A password on the command line would be readable by every local user in the process list.
	if (!parsed['password-stdin']) fail('--password-stdin is required: the password is read from standard input, never from the command line');
	const password = await readPassword().catch((error: Error) => fail(error.message));
	try {
		const report = await runConformance({
			host: parsed.host,
			port,
			user: parsed.user,
			password,
			...(parsed.fingerprint === undefined ? {} : { fingerprint: parsed.fingerprint }),
		});
		process.stdout.write(parsed.json ? `${JSON.stringify(report, null, '\t')}\n` : formatReport(report));
		return report.summary.failed === 0 ? 0 : 1;
	} catch (error) {
		fail(error instanceof UntrustedServerError ? untrustedMessage(error) : `cannot check ${parsed.host}:${port}: ${(error as Error).message}`);
	}
}

/** The library's refusal in this tool's own flags. */
function untrustedMessage(error: UntrustedServerError): string {
	return error.expected === undefined
		? `no CA vouches for ${error.server}; if ${error.presented} is its fingerprint, pass --fingerprint ${error.presented}`
		: `${error.server} presented ${error.presented}, not the --fingerprint ${error.expected}; nothing was sent`;
}

const status = await main();
// Exit once the report is flushed, even if the server left a connection half open.
process.stdout.write('', () => process.exit(status));
