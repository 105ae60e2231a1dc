/**
 * The release assets as `npm run release` builds them (scripts/release/): each has its .sha256
 * and a manifest entry, each archive holds its layout and a Node runtime for its own OS and CPU,
 * and the linux-x64 ones run for real from the unpacked archives, nothing from this checkout.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { chmod, mkdtemp, open, readFile, readdir, readlink, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import test from 'ava';
import { execa } from 'execa';
import { buildRelease, serverAssetName } from '../scripts/release/release.mjs';
import { platform, serverPlatforms } from '../scripts/release/platforms.mjs';
import { startThrowawayDaemon } from './helpers/daemon-process.js';
import { withTestUsers } from './helpers/os-users.js';
import { requireRoot } from './helpers/server.js';

const run = promisify(execFile);
const newUser = withTestUsers(test);
const version: string = JSON.parse(readFileSync(new URL('../server/package.json', import.meta.url), 'utf8')).version;

let work: string;
let release: string;
let assets: { name: string; kind: string; version: string; platform: string; size: number; sha256: string }[];

/** Unpacks `asset` from the release into a folder of its own and returns that folder. */
async function unpack(asset: string): Promise<string> {
	const target = await mkdtemp(join(work, 'unpacked-'));
	await chmod(target, 0o755);
	if (asset.endsWith('.zip')) await run('unzip', ['-q', join(release, asset), '-d', target]);
	else await run('tar', ['-xzf', join(release, asset), '-C', target]);
	const [top] = await readdir(target);
	return join(target, top!);
}

/**
 * What a binary is built for, from its header: an ELF's class and e_machine, a Mach-O's magic
 * and CPU type, a PE's machine and optional-header magic. In the words of platforms.mjs.
 */
async function binaryFormat(file: string): Promise<string> {
	const handle = await open(file, 'r');
	try {
		const header = Buffer.alloc(4096);
		await handle.read(header, 0, header.length, 0);
		if (header.toString('latin1', 0, 4) === '\x7fELF' && header[4] === 2) {
			return { 0x3e: 'ELF x86-64', 0xb7: 'ELF aarch64' }[header.readUInt16LE(18)] ?? `ELF machine ${header.readUInt16LE(18)}`;
		}
		if (header.readUInt32LE(0) === 0xfeedfacf) {
			return { 0x01000007: 'Mach-O x86_64', 0x0100000c: 'Mach-O arm64' }[header.readUInt32LE(4)] ?? `Mach-O CPU ${header.readUInt32LE(4)}`;
		}
		if (header.toString('latin1', 0, 2) === 'MZ') {
			const pe = header.readUInt32LE(0x3c);
			if (header.toString('latin1', pe, pe + 4) === 'PE\0\0' && header.readUInt16LE(pe + 24) === 0x20b) {
				return { 0x8664: 'PE32+ x86-64', 0xaa64: 'PE32+ arm64' }[header.readUInt16LE(pe + 4)] ?? `PE32+ machine ${header.readUInt16LE(pe + 4)}`;
			}
		}
		return 'unknown';
	} finally {
		await handle.close();
	}
}

test.before(async () => {
	work = await mkdtemp(join(tmpdir(), 'ssd-release-'));
	// The daemon's session hosts run as the test user, from the unpacked folder (as from /opt).
	await chmod(work, 0o755);
	release = join(work, 'release');
	assets = await buildRelease(release);
});

test.after.always(async () => {
	if (work) await rm(work, { recursive: true, force: true });
});

test('each asset has a .sha256 that sha256sum -c accepts, and a manifest entry', async (t) => {
	const manifest = JSON.parse(await readFile(join(release, 'manifest.json'), 'utf8'));
	t.deepEqual(manifest.assets.map((asset: { name: string }) => asset.name), assets.map((asset) => asset.name).sort());
	const check = await execa('sha256sum', ['-c', ...assets.map((asset) => `${asset.name}.sha256`)], { cwd: release });
	t.is(check.stdout.split('\n').filter((line) => line.endsWith(': OK')).length, assets.length);
	for (const platform of serverPlatforms) t.truthy(assets.find((asset) => asset.name === `${serverAssetName(version, platform)}.tar.gz`));
});

test('the server archive holds the bundles, koffi for its platform only, the PAM file, install.sh and its Node', async (t) => {
	for (const server of serverPlatforms) {
		const root = await unpack(`${serverAssetName(version, server)}.tar.gz`);
		const files = (await readdir(root, { recursive: true })).sort();
		for (const file of ['install.sh', 'bin/ssd-server', 'lib/bin/ssd-server.js', 'lib/bin/ssd-session-host.js', 'lib/bin/ssd-reaper.js', 'lib/bin/ssd-mdns-responder.js', 'package.json', 'pam/spyder-remote', 'node/bin/node', 'node/LICENSE', `node_modules/koffi/build/koffi/${server.koffi}/koffi.node`]) {
			t.true(files.includes(file), `${server.id}: ${file} missing`);
		}
		t.deepEqual(files.filter((file) => file.endsWith('.node')), [`node_modules/koffi/build/koffi/${server.koffi}/koffi.node`]);
		t.is(await binaryFormat(join(root, 'node/bin/node')), server.format);
		t.is(await binaryFormat(join(root, `node_modules/koffi/build/koffi/${server.koffi}/koffi.node`)), server.format);
	}
});

test('the unpacked linux-x64 server runs: --version, then a password login and a kernel as the user', async (t) => {
	requireRoot(t);
	const root = await unpack(`${serverAssetName(version, platform('linux-x64'))}.tar.gz`);
	t.is((await execa(join(root, 'bin/ssd-server'), ['--version'])).stdout, version);
	const user = await newUser();
	const daemon = await startThrowawayDaemon(t, { server: [join(root, 'bin/ssd-server')] });
	t.is(await readlink(`/proc/${daemon.pid}/exe`), join(root, 'node/bin/node'), 'the daemon runs on the bundled Node');
	const session = await daemon.open();
	t.teardown(() => session.close());
	await session.loginWithPassword(user.name, user.password);
	const system = (await session.listEnvironments()).find((environment) => environment.kind === 'system')!;
	const kernel = await session.startKernel({ environment: system.id, kind: 'ipykernel' });
	const status = await readFile(`/proc/${kernel.pid}/status`, 'utf8');
	t.is(/^Uid:\s+(\d+)/m.exec(status)?.[1], String(user.uid));
	await session.shutdownKernel(kernel.id);
});
