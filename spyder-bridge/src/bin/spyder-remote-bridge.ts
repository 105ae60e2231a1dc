#!/usr/bin/env node
import { runBridge } from '../main.js';
import { BRIDGE_VERSION } from '../version.js';

const usage = `Usage: spyder-remote-bridge

Speaks JSON-RPC 2.0 with Content-Length framing on stdin and stdout, for the
spyder-remote Spyder plugin (see its README). It exits when stdin closes,
leaving the kernels it forwarded running unless told otherwise.
`;

const argv = process.argv.slice(2);
if (argv.includes('--version')) {
	process.stdout.write(`${BRIDGE_VERSION}\n`);
	process.exit(0);
}
if (argv.length > 0) {
	process.stdout.write(usage);
	process.exit(argv.includes('--help') || argv.includes('-h') ? 0 : 2);
}

// stdout carries only protocol frames: anything a library prints goes to stderr instead.
console.log = console.error;
console.info = console.error;

for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.once(signal, () => process.stdin.destroy());
runBridge(process.stdin, process.stdout).then(
	() => process.exit(0),
	(error: unknown) => {
		process.stderr.write(`spyder-remote-bridge: ${error instanceof Error ? error.message : String(error)}\n`);
		process.exit(1);
	},
);
