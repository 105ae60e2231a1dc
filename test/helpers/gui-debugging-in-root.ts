/**
 * Inside a Debian root (test/gui-debugging.test.ts runs it there): a real
 * server, a throwaway user and spyder-kernels 3.x kernels of that release,
 * forwarded as Spyder gets them; in each, gui-debugging.py plays Spyder 6
 * while the debugger waits under one GUI event loop. Prints one JSON line:
 * the spyder-kernels version, and per event loop the driver's findings,
 * the kernel's id and whether the kernel listened on any TCP or UDP port.
 *
 *   node --import=tsx test/helpers/gui-debugging-in-root.ts GUI...   (e.g. qt asyncio)
 */
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { KernelForwarder, type RemoteSession } from '@spyder-remote/client';
import { createTestUser, deleteTestUser } from './os-users.js';
import { startTestServer, type TestServer } from './server.js';

const driver = fileURLToPath(new URL('gui-debugging.py', import.meta.url));

async function debugUnder(server: TestServer, session: RemoteSession, environment: string, gui: string) {
	// Offscreen: there is no display, and Qt's event loop runs the same without one.
	const kernel = await session.startKernel({ environment, kind: 'spyder', env: { QT_QPA_PLATFORM: 'offscreen' } });
	const forwarder = await KernelForwarder.open(session, kernel, { connectionDir: server.directory });
	try {
		const run = await execa('/usr/bin/python3', [driver, forwarder.connectionFile, gui], { reject: false, timeout: 150_000 });
		const listening = await execa('ss', ['-lntupH'], { reject: false });
		const line = run.stdout.split('\n').findLast((candidate) => candidate.startsWith('{'));
		return {
			kernelId: kernel.id,
			...(line ? JSON.parse(line) : { failed: `exit ${run.exitCode}: ${run.stderr.slice(-3000)}` }),
			kernelListensOnTcpOrUdp: listening.stdout.includes(`pid=${kernel.pid},`),
		};
	} finally {
		await forwarder.close();
		await session.shutdownKernel(kernel.id);
	}
}

const user = await createTestUser();
const server = await startTestServer();
try {
	const session = await server.open();
	await session.loginWithPassword(user.name, user.password);
	const environment = (await session.listEnvironments()).find((candidate) => candidate.kind === 'system');
	if (!environment) throw new Error('no system environment listed');
	const loops: Record<string, unknown> = {};
	for (const gui of process.argv.slice(2)) loops[gui] = await debugUnder(server, session, environment.id, gui);
	console.log(JSON.stringify({ spyderKernels: environment.spyderKernels, serverDirectory: server.directory, loops }));
	session.destroy();
} finally {
	await server.stop();
	await deleteTestUser(user);
}
