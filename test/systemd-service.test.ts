import { readFileSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { connect, KernelForwarder, type RemoteSession } from '@spyder-remote/client';
import type { Kernel } from '@spyder-remote/protocol';
import { certificateFingerprint, generateSelfSigned } from '../server/src/daemon/certificate.js';
import { KernelClient, type ConnectionInfo } from '../server/src/session-host/kernels/kernel-client.js';
import { cachedRelease } from '../scripts/release/cached-release.mjs';
import { platform } from '../scripts/release/platforms.mjs';
import { serverAssetName } from '../scripts/release/release.mjs';
import { startSandbox } from '../scripts/systemd-sandbox.mjs';
import { execa } from 'execa';
import { withTestUsers, type TestUser } from './helpers/os-users.js';
import { requireRoot } from './helpers/root.js';

/**
 * The service under a real systemd (PID 1 of a sandbox on an overlay of this machine's root,
 * scripts/systemd-sandbox.mjs): install, login and kernels inside the unit, restart with the
 * kernels kept, stop, a crash, and uninstall. The sandbox shares this machine's network, so the
 * test connects from outside as a laptop would.
 */
const newUser = withTestUsers(test);
const ssdServer = join(import.meta.dirname, '..', 'server', 'dist', 'bin', 'ssd-server.js');
const version: string = JSON.parse(readFileSync(new URL('../server/package.json', import.meta.url), 'utf8')).version;

/**
 * The linux-x64 server archive (scripts/release, built once per state of its inputs), unpacked as a
 * user would unpack a download: in a tree that user owns, so the installer must copy it where only
 * root can write before the unit may run it.
 */
async function unpackedRelease(directory: string, owner: TestUser): Promise<string> {
	const { directory: release } = await cachedRelease();
	const target = join(directory, 'download');
	await mkdir(target, { mode: 0o755 });
	await execa('tar', ['-xzf', join(release, `${serverAssetName(version, platform('linux-x64'))}.tar.gz`), '-C', target]);
	await execa('chown', ['-R', `${owner.uid}:${owner.gid}`, target]);
	const [top] = await readdir(target);
	return join(target, top!);
}

type Sandbox = Awaited<ReturnType<typeof startSandbox>>;

/** A loopback port free right now: the sandbox shares this machine's network with the other tests. */
async function freePort(): Promise<number> {
	const server = createServer();
	await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
	const { port } = server.address() as AddressInfo;
	await new Promise((resolve) => server.close(resolve));
	return port;
}

async function eventually(check: () => Promise<boolean> | boolean, timeoutMs: number): Promise<boolean> {
	for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; await new Promise((resolve) => setTimeout(resolve, 200))) if (await check()) return true;
	return false;
}

/** The pids of the user's processes (session host, kernels) in the sandbox, as its PID namespace numbers them. */
function processesOf(sandbox: Sandbox, user: TestUser): number[] {
	return sandbox
		.exec('pgrep', ['-u', String(user.uid)], { reject: false })
		.stdout.split('\n')
		.filter(Boolean)
		.map(Number);
}
/** The cgroup of a process in the sandbox. */
const cgroupOf = (sandbox: Sandbox, pid: number) => sandbox.exec('cat', [`/proc/${pid}/cgroup`]).stdout;

const mainPid = (sandbox: Sandbox) => Number(sandbox.exec('systemctl', ['show', '--property=MainPID', '--value', 'ssd-server.service']).stdout.trim());
const isActive = (sandbox: Sandbox) => sandbox.exec('systemctl', ['is-active', 'ssd-server.service'], { reject: false }).stdout.trim();
const existsInside = (sandbox: Sandbox, path: string) => sandbox.exec('test', ['-e', path], { reject: false }).exitCode === 0;

/** Runs code in a kernel through a forwarder and tunnels, as any Jupyter frontend would. */
async function execute(session: RemoteSession, kernel: Kernel, directory: string, code: string) {
	const forwarder = await KernelForwarder.open(session, kernel, { connectionDir: directory });
	const client = await KernelClient.connect(JSON.parse(await readFile(forwarder.connectionFile, 'utf8')) as ConnectionInfo);
	try {
		await client.waitReady(20_000);
		return await client.execute(code);
	} finally {
		client.close();
		await forwarder.close();
	}
}

async function login(port: number, fingerprint: string, user: TestUser): Promise<RemoteSession> {
	const session = await connect({ host: '127.0.0.1', port, fingerprint, knownHosts: false });
	await session.loginWithPassword(user.name, user.password);
	return session;
}

function journal(sandbox: Sandbox): string {
	return sandbox.exec('journalctl', ['--no-pager', '-u', 'ssd-server.service'], { reject: false }).stdout;
}

async function withSandbox(t: ExecutionContext, directory: string): Promise<Sandbox> {
	const sandbox = await startSandbox(join(directory, 'sandbox'), { hostNetwork: true });
	t.teardown(() => sandbox.stop());
	return sandbox;
}

test('ssd-server install runs the service under systemd: login, kernels as the user, restart, stop, crash, uninstall', async (t) => {
	requireRoot('the service test needs root: it boots systemd in namespaces and creates OS users');
	// Made before the sandbox starts, so that its overlay has the accounts.
	const user = await newUser();
	const directory = await mkdtemp(join(tmpdir(), 'ssd-service-'));
	t.teardown(() => rm(directory, { recursive: true, force: true }));
	const port = await freePort();
	// An administrator's config, kept by install: loopback, and no mDNS on this machine's network during the test.
	const configFile = join(directory, 'config.json');
	const config = { mode: 'system', listen: { host: '127.0.0.1', port }, discovery: { enabled: false } };
	await writeFile(configFile, JSON.stringify(config));
	// The same, once the administrator has shut the user out.
	const deniedConfigFile = join(directory, 'denied.json');
	await writeFile(deniedConfigFile, JSON.stringify({ ...config, auth: { denyUsers: [user.name] } }));
	// Unpacked before the sandbox starts, so that its overlay has the files.
	const archive = await unpackedRelease(directory, user);
	const installScript = join(archive, 'install.sh');
	const sandbox = await withSandbox(t, directory);
	// On failure, what the daemon said.
	t.teardown(() => {
		if (!t.passed) t.log(journal(sandbox).split('\n').slice(-60).join('\n'));
	});
	sandbox.exec('mkdir', ['-p', '/etc/spyder-remote']);
	sandbox.exec('cp', [configFile, '/etc/spyder-remote/config.json']);

	// As the administrator runs it: the archive's install.sh, on the archive's own Node.
	const installed = sandbox.exec(installScript, []).stdout;
	t.regex(installed, /kept config \/etc\/spyder-remote\/config\.json/);
	t.regex(installed, new RegExp(`copied the app to /opt/spyder-remote/ssd-server-${version}, where only root can write`));
	t.regex(
		sandbox.exec('systemctl', ['show', '--property=ExecStart', 'ssd-server.service']).stdout,
		new RegExp(`path=/opt/spyder-remote/ssd-server-${version}/node/bin/node `),
		'the unit runs the copy, on the bundled Node',
	);
	t.regex(installed, /connect with: npx ssd login 127\.0\.0\.1:\d+ --user USER --fingerprint SHA256:/);
	const fingerprint = /certificate fingerprint: (SHA256:\S+)/.exec(installed)![1]!;
	t.is(isActive(sandbox), 'active');
	t.is(sandbox.exec('systemctl', ['is-enabled', 'ssd-server.service']).stdout.trim(), 'enabled');
	const firstPid = mainPid(sandbox);
	const again = sandbox.exec(installScript, []).stdout;
	t.regex(again, /kept certificate/);
	t.regex(again, /kept unit/);
	t.is(mainPid(sandbox), firstPid, 'installing twice changes nothing: the daemon was not even restarted');

	// A password login and a kernel, inside the unit, as the user with the user's groups.
	let session = await login(port, fingerprint, user);
	const identity = await session.whoami();
	t.is(identity.uid, user.uid);
	t.true(cgroupOf(sandbox, identity.pid).includes('/ssd-server.service'), 'the session host runs in the unit');
	const system = (await session.listEnvironments()).find((environment) => environment.kind === 'system')!;
	const kernel = await session.startKernel({ environment: system.id, kind: 'ipykernel' });
	const who = await execute(session, kernel, directory, 'import os; x = 41; (os.getuid(), os.getgid(), sorted(os.getgroups()))');
	t.is(who.result, `(${user.uid}, ${user.gid}, [${[user.gid, ...user.groups].sort((a, b) => a - b).join(', ')}])`);
	// The unit leaves NoNewPrivileges out on purpose: a kernel is a login session, and sudo must work from it as over ssh.
	const noNewPrivs = await execute(session, kernel, directory, "[line.split()[1] for line in open('/proc/self/status') if line.startswith('NoNewPrivs')][0]");
	t.is(noNewPrivs.result, "'0'");
	t.true(cgroupOf(sandbox, kernel.pid!).includes('/ssd-server.service'), 'the kernel runs in the unit');
	t.regex(sandbox.exec(join(archive, 'bin', 'ssd-server'), ['status']).stdout, new RegExp(`${user.name}: session host, 1 kernel`));
	session.destroy();

	// A restart keeps the kernel: the new daemon's session host adopts it, and it keeps its state.
	sandbox.exec('systemctl', ['restart', 'ssd-server.service']);
	t.is(isActive(sandbox), 'active');
	t.not(mainPid(sandbox), firstPid);
	session = await login(port, fingerprint, user);
	t.true(
		(await session.listKernels()).some((listed) => listed.id === kernel.id),
		'the kernel is listed after the restart',
	);
	const attached = await session.attachKernel(kernel.id);
	t.is((await execute(session, attached, directory, 'x + 1')).result, '42', 'and re-attached with its state');
	session.destroy();

	// A stop stops the session host and the kernel.
	sandbox.exec('systemctl', ['stop', 'ssd-server.service']);
	t.is(isActive(sandbox), 'inactive');
	t.deepEqual(processesOf(sandbox, user), [], 'no session host or kernel of the user is left after a stop');
	t.false(existsInside(sandbox, '/run/spyder-remote'), 'systemd removed the runtime directory');

	// A crash: SIGKILL of the daemon alone. systemd starts it again, and nothing of the old session is left.
	sandbox.exec('systemctl', ['start', 'ssd-server.service']);
	session = await login(port, fingerprint, user);
	const crashed = await session.startKernel({ environment: system.id, kind: 'ipykernel' });
	const hostPid = (await session.whoami()).pid;
	session.destroy();
	const beforeCrash = mainPid(sandbox);
	sandbox.exec('systemctl', ['kill', '--kill-whom=main', '--signal=SIGKILL', 'ssd-server.service']);
	t.true(
		await eventually(() => isActive(sandbox) === 'active' && mainPid(sandbox) !== beforeCrash && mainPid(sandbox) !== 0, 20_000),
		'systemd restarted the killed daemon',
	);
	t.true(
		await eventually(async () => !processesOf(sandbox, user).some((pid) => pid === hostPid || pid === crashed.pid), 15_000),
		'the old session host and its kernel are gone',
	);
	session = await login(port, fingerprint, user);
	t.deepEqual(await session.listKernels(), [], "a killed daemon's kernels are stopped, not adopted");
	t.is(journal(sandbox).match(/the earlier daemon restarted/g)?.length, 1, 'only the restart handed over; a crash leaves no mark');
	await session.startKernel({ environment: system.id, kind: 'ipykernel' });
	session.destroy();

	// A restart that shuts the user out (denyUsers) does not keep their kernels for them.
	sandbox.exec('cp', [deniedConfigFile, '/etc/spyder-remote/config.json']);
	sandbox.exec('systemctl', ['restart', 'ssd-server.service']);
	t.true(await eventually(() => processesOf(sandbox, user).length === 0, 15_000), "the refused user's kernel was stopped, not handed to a new session host");
	await t.throwsAsync(login(port, fingerprint, user), { message: 'authentication failed' });

	// Uninstall with --purge leaves nothing.
	const removed = sandbox.exec(join(archive, 'bin', 'ssd-server'), ['uninstall', '--purge']).stdout;
	t.regex(removed, /removed/);
	t.not(isActive(sandbox), 'active');
	t.deepEqual(processesOf(sandbox, user), []);
	for (const path of [
		'/etc/systemd/system/ssd-server.service',
		'/etc/spyder-remote',
		'/var/lib/spyder-remote',
		'/etc/pam.d/spyder-remote',
		'/run/spyder-remote',
		'/opt/spyder-remote',
	]) {
		t.false(existsInside(sandbox, path), `${path} is removed`);
	}
	t.is(sandbox.exec('systemctl', ['list-unit-files', 'ssd-server.service', '--no-legend'], { reject: false }).stdout.trim(), '');
});

test('install and uninstall refuse, with a clear message, where they cannot work: not root, no systemd', async (t) => {
	// This machine's PID 1 is not systemd (the reason for the sandbox): nothing may be written, nothing removed.
	for (const command of ['install', 'uninstall']) {
		const outside = await execa(process.execPath, [ssdServer, command], { reject: false });
		t.is(outside.exitCode, 1);
		t.is(
			outside.stderr,
			'ssd-server: systemd is not running here (no /run/systemd/system): ssd-server install sets up a systemd service; run `ssd-server start` under your own supervisor instead',
		);
		const notRoot = await execa('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, ssdServer, command], { reject: false });
		t.is(notRoot.exitCode, 1);
		t.is(notRoot.stderr, `ssd-server: ssd-server ${command} must run as root: it sets up a system service`);
	}
});

test('install --cert/--key writes its config from the options; bad options write nothing; uninstall keeps config and state until --purge', async (t) => {
	requireRoot('the service test needs root: it boots systemd in namespaces');
	const directory = await mkdtemp(join(tmpdir(), 'ssd-service-'));
	t.teardown(() => rm(directory, { recursive: true, force: true }));
	// A certificate "from a CA", written before the sandbox starts, so that its overlay has it.
	const identity = await generateSelfSigned(['localhost']);
	const certFile = join(directory, 'ca.crt');
	const keyFile = join(directory, 'ca.key');
	await writeFile(certFile, identity.cert);
	await writeFile(keyFile, identity.key, { mode: 0o600 });
	const sandbox = await withSandbox(t, directory);
	const ssd = (args: string[]) => sandbox.exec(process.execPath, [ssdServer, ...args], { reject: false });

	const halfTls = ssd(['install', '--cert', certFile]);
	t.is(halfTls.exitCode, 1);
	t.is(halfTls.stderr?.trim(), 'ssd-server: give both --cert and --key, or neither');
	const badPort = ssd(['install', '--port', 'eighty']);
	t.is(badPort.exitCode, 2);
	t.is(badPort.stderr?.trim(), 'ssd-server: --port eighty is not a port number');
	t.false(existsInside(sandbox, '/etc/spyder-remote'), 'a refused install writes nothing');

	const port = String(await freePort());
	// On loopback only, which is announced nowhere: no mDNS on this machine's network during the test.
	const installed = ssd(['install', '--host', '127.0.0.1', '--port', port, '--cert', certFile, '--key', keyFile]);
	t.is(installed.exitCode, 0, installed.stderr);
	t.regex(installed.stdout, /wrote config \/etc\/spyder-remote\/config\.json/);
	t.regex(installed.stdout, new RegExp(`certificate fingerprint: ${certificateFingerprint(identity.cert).replaceAll('+', '\\+')}`));
	t.deepEqual(JSON.parse(sandbox.exec('cat', ['/etc/spyder-remote/config.json']).stdout), {
		mode: 'system',
		listen: { host: '127.0.0.1', port: Number(port) },
		tls: { certFile, keyFile },
	});
	t.is(isActive(sandbox), 'active');

	const kept = ssd(['uninstall']);
	t.regex(kept.stdout, /kept \/etc\/spyder-remote and \/var\/lib\/spyder-remote \(--purge removes them\)/);
	t.false(existsInside(sandbox, '/etc/systemd/system/ssd-server.service'));
	t.false(existsInside(sandbox, '/etc/pam.d/spyder-remote'));
	t.true(existsInside(sandbox, '/etc/spyder-remote/config.json'));
	// An upgrade or a reinstall keeps the config, and so the certificate.
	const again = ssd(['install']);
	t.regex(again.stdout, /kept config/);
	t.regex(again.stdout, new RegExp(`certificate fingerprint: ${certificateFingerprint(identity.cert).replaceAll('+', '\\+')}`));
	t.is(isActive(sandbox), 'active');

	ssd(['uninstall', '--purge']);
	t.false(existsInside(sandbox, '/etc/spyder-remote'));
	t.true(existsInside(sandbox, certFile), "the administrator's own certificate is not install's to remove");
});

test('the Debian package under systemd: apt-get install starts the service, a login gets a kernel as the user, remove stops everything, purge removes the config', async (t) => {
	requireRoot('the service test needs root: it boots systemd in namespaces and creates OS users');
	const user = await newUser();
	const directory = await mkdtemp(join(tmpdir(), 'ssd-service-'));
	t.teardown(() => rm(directory, { recursive: true, force: true }));
	const { directory: release, assets } = await cachedRelease();
	const deb = assets.find((asset: { kind: string; platform: string }) => asset.kind === 'debian' && asset.platform === 'linux-x64') as { name: string };
	const port = await freePort();
	// The administrator's config, there before the package: postinst keeps it (a free loopback port, no mDNS during the test).
	const configFile = join(directory, 'config.json');
	await writeFile(configFile, JSON.stringify({ mode: 'system', listen: { host: '127.0.0.1', port }, discovery: { enabled: false } }));
	// Beside the test's files: the release cache may be a mount of its own, which the sandbox's overlay of / does not show.
	const debFile = join(directory, deb.name);
	await copyFile(join(release, deb.name), debFile);
	const sandbox = await withSandbox(t, directory);
	t.teardown(() => {
		if (!t.passed) t.log(journal(sandbox).split('\n').slice(-60).join('\n'));
	});
	sandbox.exec('mkdir', ['-p', '/etc/spyder-remote']);
	sandbox.exec('cp', [configFile, '/etc/spyder-remote/config.json']);
	const apt = (args: string[]) => sandbox.exec('/usr/bin/env', ['DEBIAN_FRONTEND=noninteractive', 'apt-get', '-y', ...args], { reject: false });

	const installed = apt(['install', debFile]);
	t.is(installed.exitCode, 0, installed.stderr);
	t.is(isActive(sandbox), 'active');
	t.regex(
		sandbox.exec('systemctl', ['show', '--property=ExecStart', 'ssd-server.service']).stdout,
		/path=\/usr\/lib\/spyder-remote-server\/node\/bin\/node /,
		'the unit runs the packaged app in place: root owns it',
	);
	const fingerprint = sandbox.exec('ssd-server', ['fingerprint', '--config', '/etc/spyder-remote/config.json']).stdout.trim();
	let session = await login(port, fingerprint, user);
	const system = (await session.listEnvironments()).find((environment) => environment.kind === 'system')!;
	const kernel = await session.startKernel({ environment: system.id, kind: 'ipykernel' });
	t.is((await execute(session, kernel, directory, 'import os; x = 41; os.getuid()')).result, String(user.uid));
	session.destroy();
	sandbox.exec('systemctl', ['restart', 'ssd-server.service']);
	session = await login(port, fingerprint, user);
	t.is(
		(await execute(session, await session.attachKernel(kernel.id), directory, 'x + 1')).result,
		'42',
		'the packaged service keeps kernels across a restart too',
	);
	session.destroy();

	t.is(apt(['remove', 'spyder-remote-server']).exitCode, 0);
	t.not(isActive(sandbox), 'active');
	t.deepEqual(processesOf(sandbox, user), [], 'removing the package stops every session host and kernel');
	for (const path of ['/etc/systemd/system/ssd-server.service', '/etc/pam.d/spyder-remote', '/usr/lib/spyder-remote-server', '/run/spyder-remote'])
		t.false(existsInside(sandbox, path), `${path} is removed`);
	t.true(existsInside(sandbox, '/etc/spyder-remote/config.json'), 'the config stays until a purge');
	t.is(apt(['purge', 'spyder-remote-server']).exitCode, 0);
	for (const path of ['/etc/spyder-remote', '/var/lib/spyder-remote']) t.false(existsInside(sandbox, path), `${path} is purged`);
});
