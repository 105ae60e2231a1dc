/**
 * environment/list over the real server for a user with 100 environments
 * (50 conda-layout prefixes, 50 venvs), cold (first list of a fresh session
 * host) and warm (answered from the watched cache), against the naive
 * baseline measured in the same run: starting each environment's python
 * once to ask for its version. Prints one JSON object.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { connect } from '@spyder-remote/client';
import { createLogger, resolveConfig, startServer } from '@spyder-remote/server';
import { createTestUser, deleteTestUser } from '../test/helpers/os-users.js';

const count = 100;
const warmRounds = 20;

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

async function makeLayouts(home: string, uid: number, gid: number): Promise<string[]> {
	const pythons: string[] = [];
	const environmentsTxt: string[] = [];
	for (let index = 0; index < count; index += 1) {
		const conda = index % 2 === 0;
		const prefix = conda ? join(home, 'miniforge3', 'envs', `env${index}`) : join(home, '.venvs', `env${index}`);
		await execa('mkdir', ['-p', join(prefix, 'bin'), join(prefix, 'lib', 'python3.11', 'site-packages', 'spyder_kernels-2.4.2.dist-info')]);
		await execa('ln', ['-s', '/usr/bin/python3', join(prefix, 'bin', 'python')]);
		if (conda) {
			await execa('mkdir', ['-p', join(prefix, 'conda-meta')]);
			await execa('touch', [
				join(prefix, 'conda-meta', 'history'),
				join(prefix, 'conda-meta', 'python-3.11.2-h0_0.json'),
				join(prefix, 'conda-meta', 'spyder-kernels-2.4.2-py311_0.json'),
			]);
			environmentsTxt.push(prefix);
		} else {
			await execa('tee', [join(prefix, 'pyvenv.cfg')], {
				input: 'home = /usr/bin\ninclude-system-site-packages = false\nversion = 3.11.2\n',
				stdout: 'ignore',
			});
		}
		pythons.push(join(prefix, 'bin', 'python'));
	}
	await execa('mkdir', ['-p', join(home, '.conda')]);
	await execa('tee', [join(home, '.conda', 'environments.txt')], { input: `${environmentsTxt.join('\n')}\n`, stdout: 'ignore' });
	await execa('chown', ['-R', `${uid}:${gid}`, home]);
	return pythons;
}

async function main() {
	if (process.getuid?.() !== 0) throw new Error('this bench needs root: it creates a throwaway OS user');
	const user = await createTestUser();
	const directory = await mkdtemp(join(tmpdir(), 'ssd-bench-env-'));
	await execa('chmod', ['711', directory]);
	const server = await startServer(
		resolveConfig({
			mode: 'system',
			listen: { host: '127.0.0.1', port: 0 },
			stateDir: join(directory, 'state'),
			runtimeDir: join(directory, 'run'),
			logLevel: 'warn',
		}),
		createLogger('warn'),
	);
	try {
		const pythons = await makeLayouts(user.home, user.uid, user.gid);

		const naiveStarted = performance.now();
		for (const python of pythons) await execa(python, ['-c', 'import sys; print(sys.version)']);
		const naiveMs = performance.now() - naiveStarted;

		const session = await connect({ host: '127.0.0.1', port: server.port, fingerprint: server.fingerprint, knownHosts: false });
		await session.loginWithPassword(user.name, user.password);
		const coldStarted = performance.now();
		const listed = await session.listEnvironments({ spyderKernelsRange: '>=2.4.0,<2.5.0' });
		const coldMs = performance.now() - coldStarted;
		const warm: number[] = [];
		for (let round = 0; round < warmRounds; round += 1) {
			const started = performance.now();
			await session.listEnvironments({ spyderKernelsRange: '>=2.4.0,<2.5.0' });
			warm.push(performance.now() - started);
		}
		const rescans: number[] = [];
		for (let round = 0; round < 5; round += 1) {
			const started = performance.now();
			await session.listEnvironments({ refresh: true });
			rescans.push(performance.now() - started);
		}
		await session.close();
		const warmMs = median(warm);
		return {
			bench: 'environments',
			environments: listed.filter((environment) => environment.kind !== 'system').length,
			naiveSpawnEachPythonMs: Math.round(naiveMs),
			coldListMs: Math.round(coldMs * 10) / 10,
			warmListMedianMs: Math.round(warmMs * 100) / 100,
			forcedRescanMedianMs: Math.round(median(rescans) * 10) / 10,
			speedupColdVsNaive: Math.round((naiveMs / coldMs) * 10) / 10,
			targets: {
				coldAtMost300Ms: coldMs <= 300,
				warmAtMost20Ms: warmMs <= 20,
				coldAtLeast10xFasterThanNaive: naiveMs / coldMs >= 10,
			},
			note: 'cold = first environment/list answered by a fresh session host, over TLS, page cache warm; both sides measured in this run',
		};
	} finally {
		await server.close();
		await deleteTestUser(user);
		await rm(directory, { recursive: true, force: true });
	}
}

process.stdout.write(`${JSON.stringify(await main())}\n`);
