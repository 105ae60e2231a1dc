#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { UsageError, type Command } from '../cli/command.js';
import { commands } from '../cli/commands/index.js';
import { errorMessage } from '../cli/error-message.js';
import { loginFromFlags, loginHelp, loginOptions } from '../cli/login.js';
import type { RemoteSession } from '../session.js';

function usage(): string {
	const width = Math.max(...commands.map((command) => command.name.length)) + 2;
	return `Usage: ssd <command> [HOST[:PORT]] [options]

Commands:
${commands.map((command) => `  ${command.name.padEnd(width)}${command.summary}\n  ${' '.repeat(width)}ssd ${command.name} ${command.synopsis}`).join('\n')}

${loginHelp}
  --json              machine-readable output on stdout
  -h, --help          this text

Exit status: 0 success, 1 failure, 2 usage error.
Files: $SPYDER_REMOTE_CONFIG_DIR or ~/.config/spyder-remote (known_hosts, id_ed25519).
`;
}

async function main(argv: string[]): Promise<number> {
	if (argv.length === 0 || argv.includes('--help') || argv.includes('-h')) {
		process.stdout.write(usage());
		return argv.length === 0 ? 2 : 0;
	}
	// Commands are one or two words: `ssd whoami …`, `ssd env create …`.
	const twoWords = commands.find((candidate) => candidate.name === `${argv[0]} ${argv[1]}`);
	const command: Command | undefined = twoWords ?? commands.find((candidate) => candidate.name === argv[0]);
	if (!command) throw new UsageError(`unknown command ${JSON.stringify(argv[0])}`);
	const rest = argv.slice(command.name.split(' ').length);
	const { values, positionals } = parseArgs({
		args: rest,
		allowPositionals: true,
		options: { ...(command.remote ? loginOptions : {}), ...command.options, json: { type: 'boolean', default: false } },
	});
	const target = command.remote ? positionals[0] : undefined;
	const args = command.remote ? positionals.slice(1) : positionals;
	if (command.remote && !target) throw new UsageError(`ssd ${command.name} needs HOST[:PORT]`);
	const json = values.json === true;
	let opened: RemoteSession | undefined;
	try {
		const code = await command.run({
			values,
			args,
			json,
			session: async () => (opened ??= await loginFromFlags(target!, values)),
			print: (human, value) => process.stdout.write(json ? `${JSON.stringify(value)}\n` : `${human}\n`),
		});
		return code ?? 0;
	} finally {
		await opened?.close();
	}
}

main(process.argv.slice(2)).then(
	(code) => process.exit(code),
	(error: Error) => {
		const code = (error as NodeJS.ErrnoException).code;
		const usageError = error instanceof UsageError || (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS'));
		process.stderr.write(`ssd: ${errorMessage(error)}\n${usageError ? 'Try ssd --help.\n' : ''}`);
		process.exit(usageError ? 2 : 1);
	},
);
