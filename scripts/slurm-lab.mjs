// A Slurm cluster on this machine for test/slurm.test.ts: slurmctld on the host at 10.77.0.1, and one
// compute node whose slurmd (and so every job) lives in a network, UTS and mount namespace of its own at
// 10.77.0.2, named node1. A job reaches the login node only over TCP to 10.77.0.1, as on a real cluster;
// filesystems, users and pids are shared with the host. Needs root, slurm-wlm and munge
// (scripts/test-packages.mjs). No shell anywhere: every command is an argument array.
//
//   node scripts/slurm-lab.mjs up | down | status
//
// A lab that already answers (started by hand, or by another tool with the same layout) is used as it
// is and left running; one this module started is stopped by the down() of its last user.
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const prefix = '10.77.0';
const controllerAddress = `${prefix}.1`;
const nodeName = 'node1';
const nodeAddress = `${prefix}.2`;
const namespace = 'ssd-slurm-node1';
const hostSide = 'ssdslurm1h';
const nodeSide = 'ssdslurm1n';
const stateDir = '/var/tmp/ssd-slurm-lab';
const confDir = '/etc/slurm';
const marker = '# written by spyder-remote scripts/slurm-lab.mjs; removed by its down';
const sbin = '/usr/sbin';

function run(file, args, options = {}) {
	return execFileSync(file, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], ...options });
}
function succeeds(file, args) {
	try {
		run(file, args);
		return true;
	} catch {
		return false;
	}
}
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
async function waitFor(what, check, seconds) {
	for (const deadline = Date.now() + seconds * 1000; Date.now() < deadline; await sleep(200)) if (check()) return;
	throw new Error(`slurm-lab: timed out waiting for ${what} (logs in ${stateDir})`);
}

const nodeReady = () => /^(idle|mix|alloc)/.test(safe(() => run('sinfo', ['--noheader', '--nodes', nodeName, '--format=%t']).trim()));
const controllerUp = () => /is UP/.test(safe(() => run('scontrol', ['ping'])));
function safe(read) {
	try {
		return read();
	} catch {
		return '';
	}
}

/** The network namespace node1's slurmd runs in, whoever started it. */
function nodeNamespaceOfRunningLab() {
	for (const pid of safe(() => run('pgrep', ['-x', 'slurmd']))
		.split('\n')
		.filter(Boolean)) {
		const name = safe(() => run('ip', ['netns', 'identify', pid]).trim());
		if (name) return name;
	}
	return namespace;
}

function slurmConf() {
	return [
		marker,
		'ClusterName=ssdlab',
		`SlurmctldHost=${hostname()}(${controllerAddress})`,
		'SlurmUser=slurm',
		'AuthType=auth/munge',
		'CredType=cred/munge',
		`StateSaveLocation=${stateDir}/ctld`,
		`SlurmdSpoolDir=${stateDir}/%n`,
		`SlurmctldPidFile=${stateDir}/slurmctld.pid`,
		`SlurmdPidFile=${stateDir}/slurmd-%n.pid`,
		`SlurmctldLogFile=${stateDir}/slurmctld.log`,
		`SlurmdLogFile=${stateDir}/slurmd-%n.log`,
		// cgroup process tracking: scancel reaches a process that left its process group, too.
		'ProctrackType=proctrack/cgroup',
		'TaskPlugin=task/none',
		'JobAcctGatherType=jobacct_gather/none',
		'AccountingStorageType=accounting_storage/none',
		'SchedulerType=sched/backfill',
		'SelectType=select/cons_tres',
		'SelectTypeParameters=CR_Core',
		'SlurmdParameters=config_overrides',
		'ReturnToService=2',
		'MinJobAge=300',
		'KillWait=5',
		'InactiveLimit=0',
		`NodeName=${nodeName} NodeAddr=${nodeAddress} NodeHostname=${nodeName} CPUs=4 RealMemory=4000 State=UNKNOWN`,
		`PartitionName=debug Nodes=${nodeName} Default=YES MaxTime=INFINITE State=UP`,
		'',
	].join('\n');
}
const cgroupConf = () => [marker, 'CgroupAutomount=no', 'ConstrainCores=no', 'ConstrainRAMSpace=no', 'ConstrainDevices=no', ''].join('\n');

/** Writes one of our config files; a file of someone else's is never overwritten. */
function writeOwn(path, content) {
	if (existsSync(path) && !readFileSync(path, 'utf8').startsWith(marker)) throw new Error(`slurm-lab: ${path} exists and is not the lab's; not touching it`);
	writeFileSync(path, content, { mode: 0o644 });
}

const cleanEnv = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C.UTF-8' };
const pidFile = (name) => join(stateDir, `${name}.pid`);

/** Starts a daemon in a session of its own, output to its log, and records its pid. */
function startDaemon(name, file, args) {
	const child = spawn(file, args, { detached: true, stdio: ['ignore', 'ignore', 'ignore'], env: cleanEnv });
	child.unref();
	writeFileSync(pidFile(name), String(child.pid));
}

/** Stops a daemon this module started, by its recorded pid, if that pid still runs the program it started. */
async function stopDaemon(name, program) {
	const pid = Number(safe(() => readFileSync(pidFile(name), 'utf8')));
	rmSync(pidFile(name), { force: true });
	if (!pid || !safe(() => readFileSync(`/proc/${pid}/cmdline`, 'latin1')).includes(program)) return;
	process.kill(pid, 'SIGTERM');
	for (let i = 0; i < 50 && existsSync(`/proc/${pid}`); i++) await sleep(100);
	if (existsSync(`/proc/${pid}`)) process.kill(pid, 'SIGKILL');
}

const mungeWorks = () => {
	try {
		execFileSync('unmunge', [], { input: run('munge', ['-n']), stdio: ['pipe', 'ignore', 'ignore'] });
		return true;
	} catch {
		return false;
	}
};

async function ensureMunge() {
	const key = '/etc/munge/munge.key';
	if (!existsSync(key)) {
		mkdirSync('/etc/munge', { recursive: true, mode: 0o700 });
		run('mungekey', ['--create', `--keyfile=${key}`]);
		run('chown', ['munge:munge', '/etc/munge', key]);
		chmodSync(key, 0o400);
	}
	if (mungeWorks()) return;
	for (const [path, mode] of [
		['/run/munge', 0o755],
		['/var/lib/munge', 0o700],
		['/var/log/munge', 0o700],
	]) {
		mkdirSync(path, { recursive: true, mode });
		run('chown', ['munge:munge', path]);
	}
	startDaemon('munged', 'setpriv', ['--reuid=munge', '--regid=munge', '--init-groups', `${sbin}/munged`, '--foreground']);
	await waitFor('munged', mungeWorks, 20);
}

function ensureNetwork() {
	if (
		!run('ip', ['netns', 'list'])
			.split('\n')
			.some((line) => line.split(' ')[0] === namespace)
	)
		run('ip', ['netns', 'add', namespace]);
	if (!succeeds('ip', ['link', 'show', hostSide])) {
		run('ip', ['link', 'add', hostSide, 'type', 'veth', 'peer', 'name', nodeSide]);
		run('ip', ['link', 'set', nodeSide, 'netns', namespace]);
		run('ip', ['-n', namespace, 'link', 'set', nodeSide, 'name', 'eth0']);
	}
	run('ip', ['addr', 'replace', `${controllerAddress}/24`, 'dev', hostSide]);
	run('ip', ['link', 'set', hostSide, 'up']);
	run('ip', ['-n', namespace, 'link', 'set', 'lo', 'up']);
	run('ip', ['-n', namespace, 'addr', 'replace', `${nodeAddress}/24`, 'dev', 'eth0']);
	run('ip', ['-n', namespace, 'link', 'set', 'eth0', 'up']);
	run('ip', ['-n', namespace, 'route', 'replace', 'default', 'via', controllerAddress]);
}

/** The node's /etc/hosts: there the login host's own name (the jobs' SLURM_SUBMIT_HOST) is the controller's lab address. */
function nodeHosts() {
	const login = hostname();
	return ['127.0.0.1 localhost', `${controllerAddress} ${login === 'localhost' ? '' : login}`.trim(), `${nodeAddress} ${nodeName}`, ''].join('\n');
}

const thisFile = fileURLToPath(import.meta.url);
const confFile = join(confDir, 'slurm.conf');
const cgroupFile = join(confDir, 'cgroup.conf');
const startedMarker = join(stateDir, 'started-by-slurm-lab');

/** In the node's fresh UTS and mount namespaces (see up): its hostname and /etc/hosts, then slurmd in the foreground. */
function insideNode() {
	run('hostname', [nodeName]);
	run('mount', ['--bind', join(stateDir, `hosts.${nodeName}`), '/etc/hosts']);
	const slurmd = spawn(`${sbin}/slurmd`, ['-D', '-N', nodeName, '-f', confFile], { stdio: 'inherit', env: cleanEnv });
	for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => slurmd.kill(signal));
	slurmd.on('exit', (code) => process.exit(code ?? 1));
}

const usersDir = join(stateDir, 'users');
const lockDir = join(stateDir, 'lock');
const alive = (pid) => Number.isInteger(pid) && pid > 0 && existsSync(`/proc/${pid}`);

/**
 * Test files run in parallel processes and share the one lab: up and down
 * take a lock (a directory, made atomically), each user registers its pid,
 * and the lab goes down with its last live user.
 */
async function withLock(action) {
	mkdirSync(stateDir, { recursive: true, mode: 0o755 });
	for (;;) {
		try {
			mkdirSync(lockDir);
			writeFileSync(join(lockDir, 'pid'), String(process.pid));
			break;
		} catch {
			// A holder that died leaves its lock behind: taken over once its pid is gone.
			const holder = Number(safe(() => readFileSync(join(lockDir, 'pid'), 'utf8')));
			if (holder && !alive(holder)) rmSync(lockDir, { recursive: true, force: true });
			else await sleep(100);
		}
	}
	try {
		return await action();
	} finally {
		rmSync(lockDir, { recursive: true, force: true });
	}
}

function liveUsers() {
	return safe(() => readdirSync(usersDir)).filter((entry) => {
		if (alive(Number(entry))) return true;
		rmSync(join(usersDir, entry), { force: true });
		return false;
	});
}

async function start() {
	if (controllerUp() && nodeReady()) return;
	mkdirSync(confDir, { recursive: true, mode: 0o755 });
	if (!succeeds('getent', ['passwd', 'slurm']))
		run('useradd', ['--system', '--no-create-home', '--home-dir', '/nonexistent', '--shell', '/usr/sbin/nologin', 'slurm']);
	run('chown', ['slurm:slurm', stateDir]);
	mkdirSync(join(stateDir, 'ctld'), { recursive: true, mode: 0o700 });
	run('chown', ['slurm:slurm', join(stateDir, 'ctld')]);
	mkdirSync(join(stateDir, nodeName), { recursive: true, mode: 0o755 });
	writeOwn(confFile, slurmConf());
	writeOwn(cgroupFile, cgroupConf());
	writeFileSync(join(stateDir, `hosts.${nodeName}`), nodeHosts(), { mode: 0o644 });
	writeFileSync(startedMarker, '');
	await ensureMunge();
	ensureNetwork();
	if (!controllerUp()) {
		startDaemon('slurmctld', `${sbin}/slurmctld`, ['-D', '-f', confFile]);
		await waitFor('slurmctld', controllerUp, 60);
	}
	startDaemon('slurmd', 'nsenter', [
		`--net=/run/netns/${namespace}`,
		'unshare',
		'--uts',
		'--mount',
		'--propagation',
		'slave',
		process.execPath,
		thisFile,
		'inside-node',
	]);
	await waitFor(`${nodeName} to take jobs`, nodeReady, 90);
}

/** Stops what start() started, and removes its network and config; a lab it did not start is left alone. */
async function stop() {
	if (!existsSync(startedMarker)) return;
	const jobs = safe(() => run('squeue', ['--noheader', '--format=%i']))
		.split('\n')
		.filter(Boolean);
	if (jobs.length > 0) safe(() => run('scancel', jobs));
	await stopDaemon('slurmd', thisFile);
	await stopDaemon('slurmctld', 'slurmctld');
	await stopDaemon('munged', 'munged');
	safe(() => run('ip', ['netns', 'del', namespace]));
	safe(() => run('ip', ['link', 'del', hostSide]));
	for (const file of [confFile, cgroupFile]) if (existsSync(file) && readFileSync(file, 'utf8').startsWith(marker)) rmSync(file);
	rmSync(join(stateDir, 'ctld'), { recursive: true, force: true });
	rmSync(join(stateDir, nodeName), { recursive: true, force: true });
	rmSync(startedMarker, { force: true });
}

export const slurmLab = {
	controllerAddress,
	nodeAddress,
	nodeName,
	/** The network namespace of the compute node: this lab's, or that of a lab started by another tool. */
	nodeNamespace: () => nodeNamespaceOfRunningLab(),

	/** Makes this process a user of the lab, starting it unless one answers already; resolves once node1 takes jobs. */
	up: () =>
		withLock(async () => {
			mkdirSync(usersDir, { recursive: true });
			writeFileSync(join(usersDir, String(process.pid)), '');
			await start();
		}),

	/** This process is done with the lab: the last user stops it, if this script started it (a lab started by hand stays). */
	down: () =>
		withLock(async () => {
			rmSync(join(usersDir, String(process.pid)), { force: true });
			if (liveUsers().length === 0 && !existsSync(join(stateDir, 'by-hand'))) await stop();
		}),
};

if (process.argv[1] === fileURLToPath(import.meta.url)) {
	const verb = process.argv[2];
	// By hand, the lab stays up until `down`, whoever else uses it meanwhile.
	if (verb === 'up') await withLock(async () => (await start(), writeFileSync(join(stateDir, 'by-hand'), '')));
	else if (verb === 'down') await withLock(async () => (rmSync(join(stateDir, 'by-hand'), { force: true }), await stop()));
	else if (verb === 'inside-node') insideNode();
	else if (verb === 'status')
		console.log(
			`controller ${controllerUp() ? 'up' : 'down'}, ${nodeName} ${nodeReady() ? 'takes jobs' : 'not ready'}, namespace ${nodeNamespaceOfRunningLab()}`,
		);
	else {
		console.error('usage: slurm-lab.mjs up | down | status');
		process.exit(2);
	}
}
