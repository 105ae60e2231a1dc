// Child process for the benches: an ssd-server on 127.0.0.1, port 0, in the
// mode and with the directories given on the command line. Prints one JSON
// line {port, fingerprint, pid} when listening; stops (session hosts and
// their kernels included) when stdin closes or on SIGTERM/SIGINT.
import { createLogger, resolveConfig, startServer } from '@spyder-remote/server';

const modes = {
	// For bench/rpc.ts. Root (uid 0) may log in only with auth.permitRoot; this daemon listens on loopback only.
	personal: { config: { auth: { permitRoot: process.getuid() === 0 } }, stopGraceMs: 8000 },
	// For bench/kernels.ts, which makes the directories' parent reachable by the session hosts' users (0711).
	// Discovery off: loopback only, no mDNS announcements on the machine's interfaces. The longer grace is
	// for stopping every user's session host and kernels.
	system: { config: { discovery: { enabled: false } }, stopGraceMs: 15_000 },
	// For bench/kernels.ts's warm-pool start-ups: system mode with a pool of both kinds for the environment given last.
	warm: {
		config: {
			mode: 'system',
			discovery: { enabled: false },
			kernels: { warmPool: ['spyder', 'ipykernel'].map((kind) => ({ environment: process.argv[5], kind })) },
		},
		stopGraceMs: 15_000,
	},
	// For bench/sessions.ts: system mode with room for many logins at once (it keeps a few in flight, and
	// opens hundreds of idle sessions). Loopback only, discovery off.
	sessions: { config: { mode: 'system', discovery: { enabled: false }, auth: { maxStartups: '1000:30:2000' } }, stopGraceMs: 15_000 },
};

const [mode, stateDir, runtimeDir] = process.argv.slice(2);
if (!Object.hasOwn(modes, mode ?? '') || !stateDir || !runtimeDir || (mode === 'warm' && !process.argv[5])) {
	process.stderr.write(`usage: daemon.mjs ${Object.keys(modes).join('|')} STATE_DIR RUNTIME_DIR [warm: ENVIRONMENT]\n`);
	process.exit(2);
}
const config = resolveConfig({
	mode,
	listen: { host: '127.0.0.1', port: 0 },
	stateDir,
	runtimeDir,
	logLevel: 'warn',
	...modes[mode].config,
});
const server = await startServer(config, createLogger('warn'));
process.stdout.write(`${JSON.stringify({ port: server.port, fingerprint: server.fingerprint, pid: process.pid })}\n`);

let stopping = false;
async function stop() {
	if (stopping) return;
	stopping = true;
	const timer = setTimeout(() => process.exit(1), modes[mode].stopGraceMs);
	await server.close().catch(() => undefined);
	clearTimeout(timer);
	process.exit(0);
}
process.stdin.on('end', stop);
process.stdin.on('close', stop);
process.stdin.resume();
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
