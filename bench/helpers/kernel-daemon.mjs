// Child process for bench/kernels.ts: an ssd-server in system mode on
// 127.0.0.1, port 0, discovery off, with the directories given on the
// command line (their parent must be reachable by the session hosts' users:
// 0711). Prints one JSON line {port, fingerprint, pid} when listening; stops
// (session hosts and their kernels included) when stdin closes or on
// SIGTERM/SIGINT.
import { createLogger, resolveConfig, startServer } from '@spyder-remote/server';

const [stateDir, runtimeDir] = process.argv.slice(2);
if (!stateDir || !runtimeDir) {
	process.stderr.write('usage: kernel-daemon.mjs STATE_DIR RUNTIME_DIR\n');
	process.exit(2);
}
const config = resolveConfig({
	mode: 'system',
	listen: { host: '127.0.0.1', port: 0 },
	stateDir,
	runtimeDir,
	logLevel: 'warn',
	// Loopback only: no mDNS announcements on the machine's interfaces.
	discovery: { enabled: false },
});
const server = await startServer(config, createLogger('warn'));
process.stdout.write(`${JSON.stringify({ port: server.port, fingerprint: server.fingerprint, pid: process.pid })}\n`);

let stopping = false;
async function stop() {
	if (stopping) return;
	stopping = true;
	const timer = setTimeout(() => process.exit(1), 15_000);
	await server.close().catch(() => undefined);
	clearTimeout(timer);
	process.exit(0);
}
process.stdin.on('end', stop);
process.stdin.on('close', stop);
process.stdin.resume();
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
