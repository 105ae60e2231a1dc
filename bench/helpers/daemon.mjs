// Child process for bench/rpc.ts: an ssd-server in personal mode on
// 127.0.0.1, port 0, with the directories given on the command line. Prints
// one JSON line {port, fingerprint} when listening; stops (session hosts
// included) when stdin closes or on SIGTERM.
import { createLogger, resolveConfig, startServer } from '@spyder-remote/server';

const [stateDir, runtimeDir] = process.argv.slice(2);
if (!stateDir || !runtimeDir) {
	process.stderr.write('usage: daemon.mjs STATE_DIR RUNTIME_DIR\n');
	process.exit(2);
}
// Root (uid 0) may log in only with auth.permitRoot; this daemon listens on loopback only.
const config = resolveConfig({
	mode: 'personal',
	listen: { host: '127.0.0.1', port: 0 },
	stateDir,
	runtimeDir,
	auth: { permitRoot: process.getuid() === 0 },
	logLevel: 'warn',
});
const server = await startServer(config, createLogger('warn'));
process.stdout.write(`${JSON.stringify({ port: server.port, fingerprint: server.fingerprint })}\n`);

let stopping = false;
async function stop() {
	if (stopping) return;
	stopping = true;
	const timer = setTimeout(() => process.exit(1), 8000);
	await server.close().catch(() => undefined);
	clearTimeout(timer);
	process.exit(0);
}
process.stdin.on('end', stop);
process.stdin.on('close', stop);
process.stdin.resume();
process.on('SIGTERM', stop);
