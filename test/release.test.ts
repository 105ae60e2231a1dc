/**
 * The release assets as `npm run release` builds them (scripts/release/): each has its .sha256
 * and a manifest entry, each archive holds its layout and a Node runtime for its own OS and CPU,
 * and the linux-x64 ones run for real from the unpacked archives, nothing from this checkout.
 */
import { execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { chmod, mkdtemp, open, readFile, readdir, readlink, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import test, { type ExecutionContext } from 'ava';
import { execa } from 'execa';
import { HostConfirmRequest, InitializeRequest, SessionLoginRequest, SessionOpenRequest } from 'spyder-remote-bridge';
import { createMessageConnection, StreamMessageReader, StreamMessageWriter } from 'vscode-jsonrpc/node';
import { cachedRelease } from '../scripts/release/cached-release.mjs';
import { clientAssetName, serverAssetName } from '../scripts/release/release.mjs';
import { platform, platforms, serverPlatforms } from '../scripts/release/platforms.mjs';
import { runtimeInTree } from '../scripts/release/runtime.mjs';
import { isBuilt, rootDirectory, runInRoot, spyderSuites } from '../scripts/debian-root.mjs';
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

/** The files (not folders) below `root`, as sorted relative paths. */
async function filesIn(root: string): Promise<string[]> {
	const entries = await readdir(root, { recursive: true, withFileTypes: true });
	return entries
		.filter((entry) => entry.isFile())
		.map((entry) => relative(root, join(entry.parentPath, entry.name)))
		.sort();
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

test.before(async (t) => {
	// A build from scratch takes minutes; cachedRelease reuses the one for these very inputs.
	t.timeout(20 * 60_000);
	work = await mkdtemp(join(tmpdir(), 'ssd-release-'));
	// The daemon's session hosts run as the test user, from the unpacked folder (as from /opt).
	await chmod(work, 0o755);
	({ directory: release, assets } = await cachedRelease());
});

test.after.always(async () => {
	if (work) await rm(work, { recursive: true, force: true });
});

test('each asset has a .sha256 that sha256sum -c accepts, and a manifest entry', async (t) => {
	const manifest = JSON.parse(await readFile(join(release, 'manifest.json'), 'utf8'));
	t.deepEqual(manifest.assets.map((asset: { name: string }) => asset.name).sort(), assets.map((asset) => asset.name).sort());
	const check = await execa('sha256sum', ['-c', ...assets.map((asset) => `${asset.name}.sha256`)], { cwd: release });
	t.is(check.stdout.split('\n').filter((line) => line.endsWith(': OK')).length, assets.length);
	for (const platform of serverPlatforms) t.truthy(assets.find((asset) => asset.name === `${serverAssetName(version, platform)}.tar.gz`));
	for (const platform of platforms) t.truthy(assets.find((asset) => asset.name === `${clientAssetName(version, platform)}.${platform.archive}`));
});

test('the server archive holds the bundles, koffi for its platform only, the PAM file, install.sh and its Node', async (t) => {
	for (const server of serverPlatforms) {
		const root = await unpack(`${serverAssetName(version, server)}.tar.gz`);
		const files = await filesIn(root);
		for (const file of [
			'install.sh',
			'bin/ssd-server',
			'lib/bin/ssd-server.js',
			'lib/bin/ssd-session-host.js',
			'lib/bin/ssd-reaper.js',
			'lib/bin/ssd-mdns-responder.js',
			'lib/bin/ssd-node-agent.js',
			'package.json',
			'pam/spyder-remote',
			'node/bin/node',
			'node/LICENSE',
			`node_modules/koffi/build/koffi/${server.koffi}/koffi.node`,
		]) {
			t.true(files.includes(file), `${server.id}: ${file} missing`);
		}
		t.deepEqual(
			files.filter((file) => file.endsWith('.node')),
			[`node_modules/koffi/build/koffi/${server.koffi}/koffi.node`],
		);
		t.is(await binaryFormat(join(root, 'node/bin/node')), server.format);
		t.is(await binaryFormat(join(root, `node_modules/koffi/build/koffi/${server.koffi}/koffi.node`)), server.format);
	}
});

test('each client archive holds ssd and the bridge, bundled, with launchers and the Node of its OS and CPU', async (t) => {
	for (const client of platforms) {
		const root = await unpack(`${clientAssetName(version, client)}.${client.archive}`);
		const files = await filesIn(root);
		const launchers = client.os === 'win' ? ['bin/spyder-remote-bridge.cmd', 'bin/ssd.cmd'] : ['bin/spyder-remote-bridge', 'bin/ssd'];
		t.deepEqual(files, [...launchers, 'lib/spyder-remote-bridge.js', 'lib/ssd.js', 'node/LICENSE', runtimeInTree(client), 'package.json'].sort(), client.id);
		t.is(await binaryFormat(join(root, runtimeInTree(client))), client.format, client.id);
	}
});

test('the Debian package: its tree under /usr/lib, ssd-server on PATH, maintainer scripts, and lintian clean but for the reasoned overrides', async (t) => {
	const deb = assets.find((asset) => asset.kind === 'debian')!;
	t.is(deb.name, `spyder-remote-server_${version}-1_amd64.deb`);
	const file = join(release, deb.name);
	const fields = (await execa('dpkg-deb', ['--field', file, 'Package', 'Version', 'Architecture', 'Depends'])).stdout;
	t.regex(fields, new RegExp(`^Version: ${version}-1$`, 'm'));
	t.regex(fields, /^Architecture: amd64$/m);
	t.notRegex(fields, /nodejs/, 'it carries its own Node');
	const listing = (await execa('dpkg-deb', ['--contents', file])).stdout;
	t.regex(listing, /\.\/usr\/sbin\/ssd-server -> \.\.\/lib\/spyder-remote-server\/bin\/ssd-server$/m);
	for (const path of [
		'usr/lib/spyder-remote-server/node/bin/node',
		'usr/lib/spyder-remote-server/lib/bin/ssd-server.js',
		'usr/share/doc/spyder-remote-server/copyright',
		'usr/share/man/man8/ssd-server.8.gz',
	]) {
		t.regex(listing, new RegExp(` \\./${path.replaceAll('.', '\\.')}$`, 'm'), path);
	}
	const control = await mkdtemp(join(work, 'control-'));
	await execa('dpkg-deb', ['--control', file, control]);
	t.regex(await readFile(join(control, 'postinst'), 'utf8'), /^\t\tssd-server install$/m);
	t.regex(await readFile(join(control, 'prerm'), 'utf8'), /^\tssd-server uninstall$/m);
	// Extracted anywhere, the link and the launcher find the bundled Node.
	const unpacked = await mkdtemp(join(work, 'deb-'));
	await execa('dpkg-deb', ['--extract', file, unpacked]);
	t.is((await execa(join(unpacked, 'usr/sbin/ssd-server'), ['--version'])).stdout, version);
	const lintian = await execa('lintian', ['--fail-on', 'error,warning', file], { reject: false });
	t.is(lintian.exitCode, 0, lintian.stdout);
	t.notRegex(lintian.stdout, /^[EW]: /m);
});

test('the unpacked linux-x64 archives run: ssd-server --version, a password login and a kernel as the user, then ssd and the bridge log in to it', async (t) => {
	requireRoot(t);
	const linux = platform('linux-x64');
	const root = await unpack(`${serverAssetName(version, linux)}.tar.gz`);
	const client = await unpack(`${clientAssetName(version, linux)}.tar.gz`);
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

	const configDir = await mkdtemp(join(work, 'client-config-'));
	const ssd = (args: string[], input?: string) => execa(join(client, 'bin/ssd'), args, { input, reject: false, env: { SPYDER_REMOTE_CONFIG_DIR: configDir } });
	const help = await ssd(['--help']);
	t.is(help.exitCode, 0);
	t.regex(help.stdout, /^Usage: ssd /);
	const login = await ssd(
		['login', `127.0.0.1:${daemon.port}`, '--user', user.name, '--password-stdin', '--save-key', '--fingerprint', daemon.fingerprint],
		`${user.password}\n`,
	);
	t.is(login.exitCode, 0, login.stderr);
	t.regex(login.stdout, new RegExp(`Logged in to .* as ${user.name}\\. Key SHA256:\\S+ registered`));
	// The key and the pinned fingerprint that login saved: no password now.
	const who = await ssd(['whoami', `127.0.0.1:${daemon.port}`, '--user', user.name, '--json']);
	t.is(who.exitCode, 0, who.stderr);
	t.like(JSON.parse(who.stdout), { user: user.name, uid: user.uid });

	const bridge = spawn(join(client, 'bin/spyder-remote-bridge'), [], {
		env: { PATH: process.env.PATH, SPYDER_REMOTE_CONFIG_DIR: configDir },
		stdio: ['pipe', 'pipe', 'inherit'],
	});
	t.teardown(() => bridge.kill('SIGKILL'));
	const connection = createMessageConnection(new StreamMessageReader(bridge.stdout), new StreamMessageWriter(bridge.stdin));
	connection.onRequest(HostConfirmRequest.type, () => ({ trust: true }));
	connection.listen();
	await connection.sendRequest(InitializeRequest.type, { spyderVersion: '5.4.2', spyderKernelsRange: '>=2.4.0,<2.5.0', stopKernelsOnExit: true });
	t.is(await readlink(`/proc/${bridge.pid}/exe`), join(client, 'node/bin/node'), 'the bridge runs on the bundled Node');
	const opened = await connection.sendRequest(SessionOpenRequest.type, { host: '127.0.0.1', port: daemon.port, label: 'release' });
	await t.notThrowsAsync(connection.sendRequest(SessionLoginRequest.type, { session: opened.session, user: user.name, password: user.password }));
	connection.dispose();
});

/** Run in the venv: Spyder's plugin entry point, what locate finds, and that bridge started as the plugin starts it (a QProcess). */
const pluginProbe = `
import json, os, sys
from importlib.metadata import entry_points
from qtpy.QtCore import QTimer
from qtpy.QtWidgets import QApplication
app = QApplication(sys.argv)
import spyder
import spyder_remote.plugin
from spyder_remote.bridge import BridgeClient
from spyder_remote.bridge_protocol import Method
from spyder_remote.locate import find_bridge_command
command = find_bridge_command()
bridge = BridgeClient(command)
bridge.start()
seen = {'spyder': spyder.__version__, 'command': command, 'plugins': [entry.value for entry in entry_points(group='spyder.plugins') if entry.name == 'spyder_remote']}
def answered(result):
    seen['initialized'] = True
    app.quit()
def failed(error):
    seen['error'] = error.message
    app.quit()
bridge.request(Method.INITIALIZE, {'spyderVersion': spyder.__version__, 'spyderKernelsRange': '>=2.4.0,<4', 'stopKernelsOnExit': True}, answered, failed)
QTimer.singleShot(30000, app.quit)
app.exec_()
seen['exe'] = os.readlink('/proc/%d/exe' % bridge._process.processId())
bridge.stop()
print('PROBE ' + json.dumps(seen))
`;

/** Runs a program on the host or in a Debian root, with exactly `env`; output is stdout and stderr. */
type Runner = (file: string, args: string[], env?: Record<string, string>) => Promise<{ exitCode: number; output: string }>;

/**
 * Installs the linux-x64 wheel into a --system-site-packages venv of that system's Python, runs
 * pluginProbe in it with no Node on PATH, uninstalls, and checks each step.
 */
async function checkWheel(t: ExecutionContext, run: Runner, venv: string, spyder: RegExp) {
	const linux = platform('linux-x64');
	const wheel = assets.find((asset) => asset.kind === 'spyder-plugin' && asset.platform === linux.id)!;
	t.is(wheel.name, `spyder_remote-${version}-py3-none-${linux.wheelTag}.whl`);
	const ok = async (file: string, args: string[], env?: Record<string, string>) => {
		const result = await run(file, args, env);
		if (result.exitCode !== 0) throw new Error(`${file} ${args.join(' ')} failed (${result.exitCode}): ${result.output}`);
		return result.output;
	};
	await ok('/usr/bin/python3', ['-m', 'venv', '--system-site-packages', venv]);
	const python = join(venv, 'bin', 'python');
	const before = await filesIn(venv);
	// --no-index: the one file is all it takes.
	await ok(python, ['-m', 'pip', 'install', '--no-index', join(release, wheel.name)]);
	const sitePackages = (await ok(python, ['-c', 'import sysconfig; print(sysconfig.get_path("platlib"))'])).trim();
	const bundled = join(sitePackages, 'spyder_remote', 'bridge');
	const output = await ok(python, ['-c', pluginProbe], { PATH: join(venv, 'bin'), QT_QPA_PLATFORM: 'offscreen', HOME: work });
	const seen = JSON.parse(/^PROBE (.*)$/m.exec(output)?.[1] ?? 'null');
	t.truthy(seen, output);
	t.regex(seen.spyder, spyder);
	t.deepEqual(seen.command, [join(bundled, 'node/bin/node'), join(bundled, 'lib/spyder-remote-bridge.js')]);
	t.deepEqual(seen.plugins, ['spyder_remote.plugin:SpyderRemote']);
	t.true(seen.initialized, seen.error);
	t.is(seen.exe, join(bundled, 'node/bin/node'));
	await ok(python, ['-m', 'pip', 'uninstall', '-y', 'spyder-remote']);
	t.deepEqual(await filesIn(venv), before);
}

const onHost: Runner = async (file, args, env) => {
	const result = await execa(file, args, { env, extendEnv: env === undefined, reject: false, all: true });
	return { exitCode: result.exitCode ?? 1, output: result.all ?? '' };
};

test("the linux-x64 wheel in a venv of Debian 12's Python with its Spyder 5.4: the plugin finds and starts its own bridge on its own Node, and uninstall removes it all", async (t) => {
	await checkWheel(t, onHost, join(work, 'plugin-venv'), /^5\.4\./);
});

for (const [spyder, suite] of Object.entries(spyderSuites)) {
	test(`the same wheel in Spyder ${spyder}'s Python (Debian ${suite} root)`, async (t) => {
		const root = rootDirectory(suite);
		if (!isBuilt(suite)) throw new Error(`the ${suite} root is not built: npm test builds it (scripts/ensure-installed.mjs --tests)`);
		// runInRoot finds chroot on the PATH it is given, so the system's directories stay on it
		// here; locate.py still takes the wheel's Node first, which checkWheel asserts.
		const withSystemPath = (env: Record<string, string> = {}) => (env.PATH ? { ...env, PATH: `${env.PATH}:/usr/sbin:/usr/bin:/sbin:/bin` } : env);
		const inRoot: Runner = (file, args, env) => runInRoot(root, file, args, { binds: [work, release], env: withSystemPath(env), timeout: 5 * 60_000 });
		await checkWheel(t, inRoot, join(work, `plugin-venv-${suite}`), new RegExp(`^${spyder.replace('.', '\\.')}\\.`));
	});
}
