/**
 * The Spyder plugin's end-to-end test (test/spyder.test.ts) in a Spyder
 * this machine's Debian lacks: the whole of it (server, session host,
 * kernel, bridge and Spyder) runs inside a Debian root of the release that
 * ships that Spyder, on that release's Node.js and Python, with this
 * checkout bound in. `npm test` builds the roots before the suite starts.
 */
import { fileURLToPath } from 'node:url';
import type { TestFn } from 'ava';
import { isBuilt, rootDirectory, runInRoot, spyderSuites } from '../../scripts/debian-root.mjs';
import { isRoot } from './os-users.js';

const checkout = fileURLToPath(new URL('../..', import.meta.url)).replace(/\/$/, '');

export function testSpyderInRoot(test: TestFn, spyder: keyof typeof spyderSuites): void {
	const suite = spyderSuites[spyder];
	const root = rootDirectory(suite);

	test.before(() => {
		if (!isRoot) throw new Error('entering a Debian root needs root');
		if (!isBuilt(suite)) throw new Error(`the ${suite} root is not built: npm test builds it (scripts/ensure-installed.mjs --tests)`);
	});

	test.serial(`the root has Spyder ${spyder}`, async (t) => {
		const found = await runInRoot(root, '/usr/bin/python3', ['-c', 'import spyder, spyder_kernels; print(spyder.__version__, spyder_kernels.__version__)']);
		t.is(found.exitCode, 0, found.output);
		t.regex(found.output, new RegExp(`^${spyder.replace('.', '\\.')}\\.\\d+ 3\\.`));
	});

	test.serial(`in Spyder ${spyder} (Debian ${suite}): the plugin end to end, server and kernel on ${suite}'s Node.js and Python`, async (t) => {
		t.timeout(8 * 60_000);
		const screenshots = process.env.SPYDER_SCREENSHOTS_DIR;
		// The Slurm lab runs on this machine, not in the roots, which have no Slurm: its console test runs in Spyder 5.4 only.
		const run = await runInRoot(
			root,
			'/usr/bin/node',
			[`${checkout}/node_modules/ava/entrypoints/cli.mjs`, 'test/spyder.test.ts', '--match', '!*Slurm partition*'],
			{
				binds: [checkout],
				env: {
					CI: 'true',
					...(screenshots ? { SPYDER_SCREENSHOTS_DIR: screenshots } : {}),
				},
				timeout: 7 * 60_000,
				cwd: checkout,
			},
		);
		t.is(run.exitCode, 0, run.output);
		t.regex(run.output, /4 tests passed/);
	});
}
