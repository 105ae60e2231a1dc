/**
 * Debugging under a GUI event loop with spyder-kernels 3.x (Spyder 6),
 * through the server: the kernel wakes its own event loop with a message
 * to its shell socket, which the launcher (server/src/session-host/kernels/
 * launcher.ts) points at the kernel's Unix socket instead of a TCP port
 * nobody has. Runs in the Debian roots, where spyder-kernels 3 is
 * (test/helpers/gui-debugging-in-root.ts, gui-debugging.py).
 */
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { isBuilt, rootDirectory, runInRoot, spyderSuites } from '../scripts/debian-root.mjs';
import { isRoot } from './helpers/os-users.js';

const checkout = fileURLToPath(new URL('..', import.meta.url)).replace(/\/$/, '');

/**
 * The event loops tried in each root. sid's spyder-kernels 3.1.3 asks for
 * ipykernel < 7, but sid ships ipykernel 7.2, and with that pair `%gui qt`
 * stops the kernel from answering anything, with or without this server
 * (plain ipykernel 7 with Qt, and spyder-kernels with asyncio, are fine).
 * asyncio's loop returns now and then by itself, so there it is the
 * wake-up's address, not the wait, that shows the launcher's fix at work.
 */
const loops: Record<keyof typeof spyderSuites, string[]> = { '6.0': ['qt', 'asyncio'], '6.1': ['asyncio'] };

interface LoopResult {
	readonly askedForCommand: boolean;
	readonly resumed: boolean;
	readonly resumedAfterSeconds: number;
	readonly wakeUpEndpoint?: string;
	readonly kernelId: string;
	readonly kernelListensOnTcpOrUdp: boolean;
	readonly failed?: string;
}

const escaped = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

test.before(() => {
	if (!isRoot) throw new Error('entering a Debian root needs root');
});

for (const [spyder, suite] of Object.entries(spyderSuites) as [keyof typeof spyderSuites, string][]) {
	test.serial(
		`Spyder ${spyder}'s kernel (Debian ${suite}): a debugger command typed while ${loops[spyder].join(' or ')}'s event loop runs is read at once, over the kernel's own Unix socket`,
		async (t) => {
			t.timeout(4 * 60_000);
			if (!isBuilt(suite)) throw new Error(`the ${suite} root is not built: npm test builds it (scripts/ensure-installed.mjs --tests)`);
			const run = await runInRoot(rootDirectory(suite), '/usr/bin/node', ['--import=tsx', 'test/helpers/gui-debugging-in-root.ts', ...loops[spyder]], {
				binds: [checkout],
				cwd: checkout,
				timeout: 3 * 60_000,
			});
			t.is(run.exitCode, 0, run.output);
			const line = run.output.split('\n').findLast((candidate) => candidate.startsWith('{"spyderKernels"'));
			if (!line) throw new Error(`no result: ${run.output}`);
			const result = JSON.parse(line) as { spyderKernels: string; serverDirectory: string; loops: Record<string, LoopResult> };
			t.regex(result.spyderKernels, /^3\./);
			for (const gui of loops[spyder]) {
				const loop = result.loops[gui]!;
				t.falsy(loop.failed, loop.failed);
				t.true(loop.askedForCommand, `${gui}: the debugger asked Spyder for a command`);
				// Without the launcher's fix the command waits for the next shell message, which never comes.
				t.true(loop.resumed, `${gui}: the debugger went on after the command (waited ${loop.resumedAfterSeconds} s)`);
				t.regex(
					loop.wakeUpEndpoint ?? '',
					new RegExp(`^ipc://${escaped(result.serverDirectory)}/run/sessions/\\d+/kernels/${loop.kernelId}/kernel-1$`),
					`${gui}: woken on the kernel's own shell socket, in its 0700 directory`,
				);
				t.false(loop.kernelListensOnTcpOrUdp, `${gui}: the kernel opened no TCP or UDP port`);
			}
		},
	);
}
