#!/usr/bin/env node
// A real systemd as PID 1, for the tests of the ssd-server service (test/systemd-service.test.ts): in
// private PID, mount, UTS, IPC and cgroup namespaces, chrooted into a throw-away overlay of this
// machine's root, so that the installer can write units, and systemctl and journalctl can drive them,
// on a machine (a CI container) whose own PID 1 is not systemd. Needs root. No shell runs anywhere.
//
//   node scripts/systemd-sandbox.mjs start DIR [--host-network]   boots it; prints the host pid of its PID 1
//   node scripts/systemd-sandbox.mjs exec DIR CMD [ARG...]          runs CMD inside (systemctl, journalctl, ...)
//   node scripts/systemd-sandbox.mjs stop DIR                       ends it; nothing written inside survives
//
// Inside, the files are this machine's as they were at start (the overlay's lower layer is the live /, so
// later changes may show through), /run is its own, and writes go to a tmpfs in DIR. With
// --host-network it shares this machine's network, so a test can connect to the service from outside;
// otherwise it has loopback only.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const run = (file, args, options = {}) => execFileSync(file, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], ...options });

/** The paths of one sandbox, all below its directory. */
function layout(directory) {
	const base = resolve(directory);
	return {
		base,
		namespace: join(base, 'mount-ns'),
		layers: join(base, 'layers'),
		root: join(base, 'layers', 'root'),
		pidFile: join(base, 'pid1'),
		console: join(base, 'console.log'),
	};
}

function pid1(paths) {
	if (!existsSync(paths.pidFile)) return undefined;
	const pid = Number(readFileSync(paths.pidFile, 'utf8'));
	try {
		process.kill(pid, 0);
		return pid;
	} catch {
		return undefined;
	}
}

/** Runs a command in the sandbox's prepared mount namespace (before boot). */
const inPreparedNamespace = (paths, file, args) => run('nsenter', [`--mount=${paths.namespace}`, '--', file, ...args]);

/**
 * The overlay is built in a mount namespace of its own, kept alive by a bind mount of
 * /proc/PID/ns/mnt onto a file (unshare --mount=FILE), so that each mount is one plain command
 * and this machine's mounts are never touched.
 */
function prepareRoot(paths) {
	mkdirSync(paths.layers, { recursive: true });
	// A persistent namespace file must not lie on a shared mount: give the directory a private mount of its own.
	run('mount', ['--bind', paths.base, paths.base]);
	run('mount', ['--make-private', paths.base]);
	writeFileSync(paths.namespace, '');
	run('unshare', [`--mount=${paths.namespace}`, '--propagation', 'private', 'true']);
	inPreparedNamespace(paths, 'mount', ['-t', 'tmpfs', 'tmpfs', paths.layers]);
	for (const name of ['upper', 'work', 'root']) inPreparedNamespace(paths, 'mkdir', ['-p', join(paths.layers, name)]);
	inPreparedNamespace(paths, 'mount', [
		'-t',
		'overlay',
		'overlay',
		'-o',
		`lowerdir=/,upperdir=${join(paths.layers, 'upper')},workdir=${join(paths.layers, 'work')}`,
		paths.root,
	]);
	inPreparedNamespace(paths, 'mount', ['--rbind', '/sys', join(paths.root, 'sys')]);
	inPreparedNamespace(paths, 'mount', ['--rbind', '/dev', join(paths.root, 'dev')]);
	inPreparedNamespace(paths, 'mount', ['-t', 'tmpfs', 'tmpfs', join(paths.root, 'run')]);
	// The sandbox itself, seen through the overlay, would be a loop: hide it.
	inPreparedNamespace(paths, 'mount', ['-t', 'tmpfs', 'tmpfs', join(paths.root, paths.base)]);
	// The boot stops at basic.target (below), so that the machine's own services (a database, munge, slurm) do not start
	// a second time beside the host's, on its network. basic.target still wants timers, and sysinit time sync: not in a
	// test boot. And it keeps the host's /tmp, where tests put files.
	const timers = join(paths.root, 'etc/systemd/system/timers.target.wants');
	if (existsSync(join('/etc/systemd/system/timers.target.wants'))) inPreparedNamespace(paths, 'find', [timers, '-mindepth', '1', '-delete']);
	inPreparedNamespace(paths, 'rm', ['-f', join(paths.root, 'etc/systemd/system/sysinit.target.wants/systemd-timesyncd.service')]);
	inPreparedNamespace(paths, 'mkdir', ['-p', join(paths.root, 'etc/tmpfiles.d')]);
	inPreparedNamespace(paths, 'cp', ['/dev/null', join(paths.root, 'etc/tmpfiles.d/tmp.conf')]);
}

async function start(directory, hostNetwork) {
	const paths = layout(directory);
	const running = pid1(paths);
	if (running) return running;
	mkdirSync(paths.base, { recursive: true });
	prepareRoot(paths);
	const namespaces = ['--pid', '--fork', '--mount', '--uts', '--ipc', '--cgroup', '--propagation', 'private', ...(hostNetwork ? [] : ['--net'])];
	const boot = spawn(
		'nsenter',
		[
			`--mount=${paths.namespace}`,
			'--',
			'unshare',
			...namespaces,
			`--root=${paths.root}`,
			'--mount-proc=/proc',
			'--',
			'/usr/bin/env',
			'container=ssd-systemd-sandbox',
			'/lib/systemd/systemd',
			'--system',
			'--unit=basic.target',
			'--log-target=console',
			'--log-level=notice',
		],
		{ detached: true, stdio: ['ignore', 'ignore', 'ignore'] },
	);
	boot.unref();
	// PID 1 inside is unshare's child; find it below the nsenter we started.
	let pid;
	for (let attempt = 0; attempt < 100 && !pid; attempt++) {
		await sleep(100);
		pid = findDescendant(boot.pid, 'systemd');
	}
	if (!pid) throw new Error('systemd did not start in the sandbox');
	writeFileSync(paths.pidFile, String(pid));
	for (let attempt = 0; attempt < 300; attempt++) {
		const state = execInside(paths, 'systemctl', ['is-system-running'], { reject: false }).stdout.trim();
		if (state === 'running' || state === 'degraded') {
			// As at the end of a real boot: tmpfiles made /run/nologin, which refuses every login through PAM until this removes it.
			execInside(paths, 'systemctl', ['start', 'systemd-user-sessions.service']);
			return pid;
		}
		await sleep(100);
	}
	throw new Error('systemd in the sandbox did not finish booting within 30 s');
}

/** The first process named `name` among the descendants of `ancestor`. */
function findDescendant(ancestor, name) {
	const children = run('ps', ['-o', 'pid=,comm=', '--ppid', String(ancestor)], { stdio: ['ignore', 'pipe', 'ignore'] })
		.trim()
		.split('\n')
		.filter(Boolean)
		.map((line) => line.trim().split(/\s+/));
	for (const [pid, comm] of children) if (comm === name) return Number(pid);
	for (const [pid] of children) {
		const found = findDescendant(Number(pid), name);
		if (found) return found;
	}
	return undefined;
}

/** Runs a command in every namespace of the sandbox's PID 1. */
function execInside(paths, file, args, { reject = true } = {}) {
	const pid = pid1(paths);
	if (!pid) throw new Error(`no sandbox runs in ${paths.base}`);
	try {
		return { exitCode: 0, stdout: run('nsenter', ['-t', String(pid), '-m', '-p', '-u', '-i', '-n', '-C', '-r', '-w', '--', file, ...args]) };
	} catch (error) {
		if (reject || error.status === undefined) throw error;
		return { exitCode: error.status, stdout: error.stdout ?? '', stderr: error.stderr ?? '' };
	}
}

async function stop(directory) {
	const paths = layout(directory);
	const pid = pid1(paths);
	// PID 1 of a PID namespace: every process inside ends with it.
	if (pid) process.kill(pid, 'SIGKILL');
	for (let attempt = 0; attempt < 50 && pid1(paths); attempt++) await sleep(100);
	for (const mount of [paths.namespace, paths.base]) run('umount', ['--lazy', mount], { stdio: 'ignore' });
	rmSync(paths.base, { recursive: true, force: true });
}

/** The sandbox as the tests use it. */
export async function startSandbox(directory, { hostNetwork = false } = {}) {
	const paths = layout(directory);
	const pid = await start(directory, hostNetwork);
	return {
		pid,
		exec: (file, args, options) => execInside(paths, file, args, options),
		stop: () => stop(directory),
	};
}

if (import.meta.url === `file://${process.argv[1]}`) {
	const [command, directory, ...rest] = process.argv.slice(2);
	if (!directory || !['start', 'exec', 'stop'].includes(command)) {
		process.stderr.write('usage: systemd-sandbox.mjs start|exec|stop DIR [...]\n');
		process.exit(2);
	}
	if (command === 'start') process.stdout.write(`${await start(directory, rest.includes('--host-network'))}\n`);
	else if (command === 'stop') await stop(directory);
	else {
		const result = execInside(layout(directory), rest[0], rest.slice(1), { reject: false });
		process.stdout.write(result.stdout);
		process.stderr.write(result.stderr ?? '');
		process.exit(result.exitCode);
	}
}
