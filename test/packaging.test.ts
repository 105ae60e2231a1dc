/**
 * The publishable packages as a user gets them: `npm pack`, then
 * `npm install` of the tarballs into an empty project, then the bins, an
 * import and a type check there, with nothing from this repository's tree
 * on the module path.
 */
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { execa } from 'execa';
import { npmWorkspaces } from '../scripts/release/release.mjs';

const root = new URL('..', import.meta.url).pathname;

interface Packed {
	readonly name: string;
	readonly filename: string;
	readonly files: readonly { readonly path: string }[];
}

let work: string;
let project: string;
let packed: Packed[];

test.before(async () => {
	work = await mkdtemp(join(tmpdir(), 'ssd-packaging-'));
	const packs = join(work, 'packs');
	project = join(work, 'project');
	await Promise.all([mkdir(packs), mkdir(project)]);
	const pack = await execa('npm', ['pack', '--json', '--pack-destination', packs, ...npmWorkspaces.flatMap((name) => ['--workspace', name])], { cwd: root });
	packed = JSON.parse(pack.stdout);
	await writeFile(join(project, 'package.json'), `${JSON.stringify({ name: 'packaging-probe', version: '1.0.0', private: true, type: 'module' })}\n`);
	// --prefer-offline: the packages' dependencies come from npm's cache when the workspace install put them there.
	await execa('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', ...packed.map((entry) => join(packs, entry.filename))], {
		cwd: project,
		timeout: 120_000,
	});
});

test.after.always(async () => {
	if (work) await rm(work, { recursive: true, force: true });
});

test('each tarball has a README, its exports and bins, declarations, and the sources its maps point at', async (t) => {
	t.deepEqual(packed.map((entry) => entry.name).sort(), [
		'@spyder-remote/client',
		'@spyder-remote/conformance',
		'@spyder-remote/protocol',
		'@spyder-remote/server',
	]);
	for (const entry of packed) {
		const files = new Set(entry.files.map((file) => file.path));
		const manifest = JSON.parse(await readFile(join(project, 'node_modules', entry.name, 'package.json'), 'utf8'));
		t.true(files.has('README.md'), `${entry.name} has no README`);
		t.is(manifest.type, 'module', `${entry.name} is not ESM`);
		for (const [subpath, target] of Object.entries<{ types: string; default: string }>(manifest.exports)) {
			for (const file of [target.types, target.default]) t.true(files.has(file.replace(/^\.\//, '')), `${entry.name} export ${subpath}: ${file} is not packed`);
		}
		for (const [bin, file] of Object.entries<string>(manifest.bin ?? {})) {
			const installed = join(project, 'node_modules', entry.name, file);
			t.true((await readFile(installed, 'utf8')).startsWith('#!/usr/bin/env node\n'), `${bin} has no #! line`);
			t.true(((await stat(installed)).mode & 0o111) !== 0, `${bin} is not executable once installed`);
		}
		for (const map of [...files].filter((file) => file.endsWith('.js.map'))) {
			const { sources } = JSON.parse(await readFile(join(project, 'node_modules', entry.name, map), 'utf8'));
			for (const source of sources as string[]) t.true(files.has(join(map, '..', source)), `${entry.name}: ${map} points at ${source}, which is not packed`);
		}
		t.false(
			[...files].some((file) => /(^|\/)(test|tsconfig[^/]*\.json|[^/]*\.tsbuildinfo)$/.test(file)),
			`${entry.name} packs build or test files`,
		);
		// Type packages are for compiling; a user's install would fetch them for nothing.
		t.deepEqual(
			Object.keys(manifest.dependencies ?? {}).filter((name) => name.startsWith('@types/')),
			[],
			`${entry.name} has @types in its runtime dependencies`,
		);
	}
});

test('the installed bins run: ssd-server --version, ssd --help, ssd-conformance --help', async (t) => {
	const bin = (name: string) => join(project, 'node_modules', '.bin', name);
	t.is((await execa(bin('ssd-server'), ['--version'])).stdout, JSON.parse(await readFile(join(root, 'server/package.json'), 'utf8')).version);
	t.regex((await execa(bin('ssd-server'), ['--help'])).stdout, /^Usage: ssd-server/);
	t.regex((await execa(bin('ssd'), ['--help'])).stdout, /^Usage: ssd /);
	t.regex((await execa(bin('ssd-conformance'), ['--help'])).stdout, /^Usage: ssd-conformance /);
});

test('the installed packages import as ESM, from the project and nowhere else', async (t) => {
	const probe = `
const client = await import('@spyder-remote/client');
const protocol = await import('@spyder-remote/protocol');
const node = await import('@spyder-remote/protocol/node');
const server = await import('@spyder-remote/server');
const conformance = await import('@spyder-remote/conformance');
const jupyter = await import('@spyder-remote/conformance/jupyter');
console.log(JSON.stringify({
	run: typeof conformance.runConformance, checks: conformance.checks.length, jupyter: typeof jupyter.JupyterClient,
	connect: typeof client.connect, forwarder: typeof client.KernelForwarder, version: protocol.PROTOCOL_VERSION,
	decoder: typeof node.FrameDecoder, startServer: typeof server.startServer,
	from: import.meta.resolve('@spyder-remote/client'),
}));`;
	const run = await execa(process.execPath, ['--input-type=module', '-e', probe], { cwd: project });
	const seen = JSON.parse(run.stdout);
	t.like(seen, {
		connect: 'function',
		forwarder: 'function',
		version: '0.1.0',
		decoder: 'function',
		startServer: 'function',
		run: 'function',
		jupyter: 'function',
	});
	t.true(seen.checks > 50);
	t.true(seen.from.startsWith(`file://${project}/node_modules/`), seen.from);
});

test('the declarations type-check in a strict NodeNext project', async (t) => {
	await writeFile(
		join(project, 'probe.ts'),
		[
			"import { connect, KernelForwarder, type RemoteSession } from '@spyder-remote/client';",
			"import { PROTOCOL_VERSION, type Environment, type Kernel } from '@spyder-remote/protocol';",
			"import { FrameDecoder } from '@spyder-remote/protocol/node';",
			"import { resolveConfig, SERVER_VERSION } from '@spyder-remote/server';",
			"import { runConformance, type ConformanceReport } from '@spyder-remote/conformance';",
			"import { JupyterClient } from '@spyder-remote/conformance/jupyter';",
			'export const report: Promise<ConformanceReport> = runConformance({ host: "h", port: 1, user: "u", password: "p" });',
			'export const jupyter: typeof JupyterClient.connect = JupyterClient.connect;',
			'export async function firstKernel(session: RemoteSession): Promise<[Kernel, KernelForwarder]> {',
			'\tconst [environment]: Environment[] = await session.listEnvironments();',
			'\tconst kernel = await session.startKernel({ environment: environment!.id, kind: "ipykernel" });',
			'\treturn [kernel, await KernelForwarder.open(session, kernel)];',
			'}',
			'export const uses = [connect, new FrameDecoder(), resolveConfig, `${PROTOCOL_VERSION} ${SERVER_VERSION}`] as const;',
			'',
		].join('\n'),
	);
	// skipLibCheck as most projects set it: the client's discovery declarations name dns-packet types, and
	// @types/dns-packet is only a devDependency, so a project checking libraries would need to add it itself.
	const compilerOptions = {
		module: 'NodeNext',
		moduleResolution: 'NodeNext',
		target: 'ES2022',
		strict: true,
		skipLibCheck: true,
		noEmit: true,
		types: ['node'],
		typeRoots: [join(root, 'node_modules/@types')],
	};
	await writeFile(join(project, 'tsconfig.json'), JSON.stringify({ compilerOptions, files: ['probe.ts'] }));
	const check = await execa(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', project], { reject: false });
	t.is(check.exitCode, 0, check.stdout);
});
