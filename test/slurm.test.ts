import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import test from 'ava';
import { execa } from 'execa';
import { ErrorCodes, KernelForwarder, RemoteError, type RemoteSession } from '@spyder-remote/client';
import { NODE_AGENT_ALPN_PROTOCOL, type KernelDidChangeJobParams, type KernelDidExitParams, type KernelStartParams } from '@spyder-remote/protocol';
import { AGENT_SETTINGS_VARIABLE, attestationPayload } from '../server/src/common/node-link.js';
import { KernelClient, type ConnectionInfo } from '../server/src/session-host/kernels/kernel-client.js';
import { ZmtpSocket } from '../server/src/session-host/kernels/zmtp.js';
import { runAs } from './helpers/as-user.js';
import { withTestUsers, type TestUser } from './helpers/os-users.js';
import { startTestServer, type LogRecord, type TestServer } from './helpers/server.js';
import { slurmLab } from '../scripts/slurm-lab.mjs';
import { requireRoot } from './helpers/root.js';

/**
 * Kernels in Slurm jobs, on a real Slurm cluster: the project's lab
 * (scripts/slurm-lab.mjs) runs slurmctld at 10.77.0.1 and node1's slurmd in
 * a network namespace of its own at 10.77.0.2, so a job reaches the daemon
 * only over TCP, as on a cluster.
 */
const newUser = withTestUsers(test);
let server: TestServer;
let alice: TestUser;
const cleanups: (() => Promise<unknown>)[] = [];
const logs: LogRecord[] = [];

test.before(async () => {
	requireRoot('Slurm tests need root: they run a Slurm lab and create OS users');
	await slurmLab.up();
	alice = await newUser();
	server = await startTestServer(
		{ listen: { host: slurmLab.controllerAddress, port: 0 }, slurm: { extraOptions: ['--begin'] } },
		{ onLog: (record) => logs.push(record) },
	);
});
test.after.always(async () => {
	for (const cleanup of cleanups) await cleanup().catch(() => undefined);
	await server?.stop();
	if (alice) await execa('scancel', ['--user', alice.name], { reject: false });
	await slurmLab.down();
});

async function login(user: TestUser): Promise<RemoteSession> {
	const session = await server.open({ host: slurmLab.controllerAddress });
	await session.loginWithPassword(user.name, user.password);
	cleanups.push(async () => session.destroy());
	return session;
}

async function slurmKernel(
	session: RemoteSession,
	placement: Omit<Extract<KernelStartParams['placement'], { kind: 'slurm' }>, 'kind'> = {},
	kind: 'spyder' | 'ipykernel' = 'ipykernel',
) {
	const system = (await session.listEnvironments()).find((environment) => environment.kind === 'system')!;
	const jobs: KernelDidChangeJobParams[] = [];
	const exits: KernelDidExitParams[] = [];
	session.onKernelEvent((event) => {
		if (event.type === 'job') jobs.push(event.params);
		if (event.type === 'exit') exits.push(event.params);
	});
	const kernel = await session.startKernel({ environment: system.id, kind, placement: { kind: 'slurm', partition: 'debug', timeLimit: '10', ...placement } });
	const forwarder = await KernelForwarder.open(session, kernel, { connectionDir: server.directory });
	const client = await KernelClient.connect(JSON.parse(await readFile(forwarder.connectionFile, 'utf8')) as ConnectionInfo);
	await client.waitReady(20_000);
	cleanups.push(async () => {
		client.close();
		await forwarder.close();
	});
	return { kernel, forwarder, client, jobs, exits };
}

async function eventually(check: () => Promise<boolean> | boolean, timeoutMs: number): Promise<boolean> {
	for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; await new Promise((resolve) => setTimeout(resolve, 100))) if (await check()) return true;
	return false;
}

/** The user's processes in node1's network namespace: what runs on the compute node. */
async function processesOnNode(user: TestUser): Promise<number[]> {
	const inNode = new Set((await execa('ip', ['netns', 'pids', slurmLab.nodeNamespace(1)])).stdout.split('\n').filter(Boolean).map(Number));
	const own = (await execa('pgrep', ['-u', String(user.uid)], { reject: false })).stdout.split('\n').filter(Boolean).map(Number);
	return own.filter((pid) => inNode.has(pid));
}

const whereAmI =
	"import os, socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.connect(('10.77.0.1', 9)); print(socket.gethostname(), s.getsockname()[0], os.getuid(), os.environ.get('SLURM_JOB_ID'), os.environ.get('" +
	AGENT_SETTINGS_VARIABLE +
	"', 'no-token'))";

test.serial('a kernel started through Slurm runs on the node as the user, and scancel leaves nothing there', async (t) => {
	const session = await login(alice);
	const { kernel, client, jobs } = await slurmKernel(session);
	t.is(kernel.placement?.kind, 'slurm');
	t.regex(kernel.job?.jobId ?? '', /^\d+$/);
	t.is(kernel.job?.phase, 'running');
	t.is(kernel.job?.node, 'node1');
	t.is(kernel.pid, undefined, 'no local process to signal');
	t.true(
		jobs.some((event) => event.job.phase === 'pending'),
		`job notifications: ${jobs.map((event) => event.job.phase).join(',')}`,
	);
	const [hostname, address, uid, jobId, token] = (await client.execute(whereAmI)).stdout.trim().split(' ');
	t.is(hostname, 'node1');
	t.is(address, '10.77.0.2');
	t.is(Number(uid), alice.uid);
	t.is(jobId, kernel.job!.jobId);
	t.is(token, 'no-token', 'the kernel does not inherit the agent token');
	t.not((await processesOnNode(alice)).length, 0);
	const onNode = new Set(await processesOnNode(alice));
	const listening = (await execa('ip', ['netns', 'exec', slurmLab.nodeNamespace(), 'ss', '-lntupH'])).stdout.split('\n');
	t.deepEqual(
		listening.filter((line) => [...line.matchAll(/pid=(\d+)/g)].some((match) => onNode.has(Number(match[1])))),
		[],
		'no process of the job listens on a port of the node',
	);

	const listed = await session.listKernels();
	t.is(listed.find((entry) => entry.id === kernel.id)?.job?.jobId, kernel.job!.jobId);
	await session.shutdownKernel(kernel.id);
	t.true(await eventually(async () => (await processesOnNode(alice)).length === 0, 15_000), `left on the node: ${(await processesOnNode(alice)).join(' ')}`);
	const state = (await execa('scontrol', ['-o', 'show', 'job', kernel.job!.jobId])).stdout;
	t.regex(state, /JobState=(CANCELLED|COMPLETED)/);
});

test.serial('interrupt, restart in the same allocation, and re-attach after the laptop drops', async (t) => {
	const first = await login(alice);
	const { kernel, client } = await slurmKernel(first);
	await client.execute('x = 1');
	const sleeping = client.execute('import time; time.sleep(60)', { timeoutMs: 30_000 });
	await new Promise((resolve) => setTimeout(resolve, 1000));
	await first.interruptKernel(kernel.id);
	t.is((await sleeping).error?.ename, 'KeyboardInterrupt');

	const restarted = await first.restartKernel(kernel.id);
	t.is(restarted.job?.jobId, kernel.job?.jobId, 'the same job');
	t.is(restarted.job?.phase, 'running');
	const after = await KernelClient.connect(JSON.parse(await readFile(join(server.directory, `kernel-ssd-${kernel.id}.json`), 'utf8')) as ConnectionInfo);
	await after.waitReady(20_000);
	t.is((await after.execute('print("x" in globals())')).stdout.trim(), 'False', 'a fresh interpreter');
	after.close();

	first.destroy();
	const second = await login(alice);
	const attached = await second.attachKernel(kernel.id);
	t.is(attached.job?.jobId, kernel.job?.jobId);
	const forwarder = await KernelForwarder.open(second, attached, { connectionDir: server.directory });
	const again = await KernelClient.connect(JSON.parse(await readFile(forwarder.connectionFile, 'utf8')) as ConnectionInfo);
	await again.waitReady(20_000);
	t.is((await again.execute('import socket; print(socket.gethostname())')).stdout.trim(), 'node1');
	again.close();
	await forwarder.close();
	await second.shutdownKernel(kernel.id);
});

test.serial('a token replayed from another job is refused, and the kernel is not disturbed', async (t) => {
	const session = await login(alice);
	const { kernel, client } = await slurmKernel(session);
	const agent = (await execa('pgrep', ['-u', String(alice.uid), '-f', 'ssd-node-agent'])).stdout.split('\n')[0]!;
	const environ = (await readFile(`/proc/${agent}/environ`, 'utf8')).split('\0');
	const stolen = environ.find((entry) => entry.startsWith(`${AGENT_SETTINGS_VARIABLE}=`))!.slice(AGENT_SETTINGS_VARIABLE.length + 1);
	t.truthy(stolen);
	const refusalsBefore = refusals().length;
	// The thief's job: the real node agent, given the stolen settings. Its script is Node itself, so no shell.
	const agentEntry = join(process.cwd(), 'server', 'dist', 'bin', 'ssd-node-agent.js');
	const script = `#!${process.execPath}\nprocess.env.${AGENT_SETTINGS_VARIABLE} = ${JSON.stringify(stolen)};\nawait import(${JSON.stringify(agentEntry)});\n`;
	const output = join(alice.home, 'replay.out');
	const jobId = (await runAs(alice, 'sbatch', ['--parsable', '--time=2', `--output=${output}`], { input: script })).stdout.trim();
	t.true(
		await eventually(async () => /JobState=(COMPLETED|FAILED)/.test((await execa('scontrol', ['-o', 'show', 'job', jobId])).stdout), 30_000),
		'the replaying job ends',
	);
	t.true(await eventually(() => refusals().length > refusalsBefore, 5000), 'the session host logs the refusal');
	t.regex(await readFile(output, 'utf8'), /closed the link/);
	t.is((await client.execute('print(6 * 7)')).stdout.trim(), '42', 'the kernel still answers');
	await session.shutdownKernel(kernel.id);
});

test.serial("a token used from anywhere but the job's node is refused; a pending job reports its reason and can be cancelled", async (t) => {
	// Take node1 whole, so that the kernel's job waits: its token then exists, unused, only in Slurm's saved job environment.
	const blocker = (await execa('sbatch', ['--parsable', '--exclusive', '--time=5', '--output=/dev/null', '--wrap=exec sleep 300'])).stdout.trim();
	cleanups.push(() => execa('scancel', [blocker]));
	const session = await login(alice);
	const jobs: KernelDidChangeJobParams[] = [];
	session.onKernelEvent((event) => event.type === 'job' && jobs.push(event.params));
	const system = (await session.listEnvironments()).find((environment) => environment.kind === 'system')!;
	const starting = session.startKernel({ environment: system.id, kind: 'ipykernel', placement: { kind: 'slurm', cpus: 1, timeLimit: '5' } });
	starting.catch(() => undefined);
	// Resources; Priority when the blocker itself still queues behind another test file's job.
	t.true(
		await eventually(() => jobs.some((event) => event.job.phase === 'pending' && ['Resources', 'Priority'].includes(event.job.reason ?? '')), 20_000),
		`pending with its reason: ${JSON.stringify(jobs)}`,
	);
	const { id, job } = jobs.find((event) => event.job.phase === 'pending')!;

	const token = JSON.parse(await savedJobVariable(job.jobId, AGENT_SETTINGS_VARIABLE)).token as string;
	const refusalsBefore = refusals().length;
	// Even with a MUNGE credential of the user's own for that job and token, a link from the login node is not the job's.
	const credential = (await runAs(alice, 'munge', ['--string', attestationPayload(job.jobId, token)])).stdout.trim();
	const closed = await dialAsAgent(token, { type: 'hello', jobId: job.jobId, hostname: 'node1', credential });
	t.true(closed, "the daemon closes the thief's link");
	t.true(
		await eventually(
			() =>
				refusals()
					.slice(refusalsBefore)
					.some((line) => line.includes('it dialed from 10.77.0.1')),
			5000,
		),
		'refused for the address it dialed from',
	);

	await session.shutdownKernel(id);
	const failure = await t.throwsAsync(starting, { instanceOf: RemoteError });
	t.is(failure?.code, ErrorCodes.KernelFailed);
	t.true(
		await eventually(async () => /JobState=CANCELLED/.test((await execa('scontrol', ['-o', 'show', 'job', job.jobId])).stdout), 10_000),
		'scancel of the pending job',
	);
	await execa('scancel', [blocker]);
});

test.serial("a job of another user, on the job's node, with the user's stolen token and job id, is refused by MUNGE", async (t) => {
	const bob = await newUser();
	const session = await login(alice);
	const jobs: KernelDidChangeJobParams[] = [];
	session.onKernelEvent((event) => event.type === 'job' && jobs.push(event.params));
	const system = (await session.listEnvironments()).find((environment) => environment.kind === 'system')!;
	// Held back by --begin, the kernel's job waits with the node free: its token exists, unused, in Slurm's saved environment.
	const starting = session.startKernel({
		environment: system.id,
		kind: 'ipykernel',
		placement: { kind: 'slurm', timeLimit: '5', extraOptions: ['--begin=now+600'] },
	});
	starting.catch(() => undefined);
	t.true(await eventually(() => jobs.some((event) => event.job.phase === 'pending' && event.job.reason === 'BeginTime'), 20_000), JSON.stringify(jobs));
	const { id, job } = jobs.find((event) => event.job.phase === 'pending')!;
	const settings = await savedJobVariable(job.jobId, AGENT_SETTINGS_VARIABLE);
	const refusalsBefore = refusals().length;
	// Bob's job dials from node1 as the agent would, claiming Alice's job, with a MUNGE credential that can only be Bob's.
	const helpers = join(process.cwd(), 'server', 'dist', 'common', 'node-link.js');
	const script = [
		`#!${process.execPath}`,
		"import { connect } from 'node:tls';",
		"import { execFileSync } from 'node:child_process';",
		`const { attestationPayload } = await import(${JSON.stringify(helpers)});`,
		`const settings = JSON.parse(${JSON.stringify(settings)});`,
		`const jobId = ${JSON.stringify(job.jobId)};`,
		"const credential = execFileSync('munge', ['--string', attestationPayload(jobId, settings.token)]).toString().trim();",
		`const socket = connect({ host: process.env.SLURM_SUBMIT_HOST, port: settings.daemonPort, ALPNProtocols: [${JSON.stringify(NODE_AGENT_ALPN_PROTOCOL)}], rejectUnauthorized: false });`,
		"socket.on('secureConnect', () => socket.write(`${settings.token}\\n${JSON.stringify({ type: 'hello', jobId, hostname: 'node1', credential })}\\n`));",
		"socket.on('close', () => console.log('closed'));",
		'',
	].join('\n');
	const output = join(bob.home, 'thief.out');
	const thief = (await runAs(bob, 'sbatch', ['--parsable', '--time=2', `--output=${output}`], { input: script })).stdout.trim();
	t.true(
		await eventually(async () => /JobState=(COMPLETED|FAILED)/.test((await execa('scontrol', ['-o', 'show', 'job', thief])).stdout), 30_000),
		"Bob's job ends",
	);
	t.true(
		await eventually(
			() =>
				refusals()
					.slice(refusalsBefore)
					.some((line) => line.includes(`made by uid ${bob.uid}`)),
			5000,
		),
		refusals().slice(refusalsBefore).join('\n'),
	);
	t.regex(await readFile(output, 'utf8'), /closed/);
	await session.shutdownKernel(id);
	await t.throwsAsync(starting, { instanceOf: RemoteError });
});

test.serial('a one-minute time limit kills the job and the client is told why within seconds', async (t) => {
	t.timeout(180_000);
	const session = await login(alice);
	const { kernel, exits } = await slurmKernel(session, { timeLimit: '1' });
	t.true(await eventually(() => exits.some((exit) => exit.id === kernel.id), 120_000), 'kernel/didExit');
	const toldAt = Date.now();
	const exit = exits.find((candidate) => candidate.id === kernel.id)!;
	t.is(exit.reason, 'TIMEOUT (TimeLimit)');
	t.false(exit.restarting);
	const record = (await execa('scontrol', ['-o', 'show', 'job', kernel.job!.jobId])).stdout;
	const endedAt = Date.parse(/EndTime=(\S+)/.exec(record)![1]!);
	t.true(toldAt - endedAt < 3000, `told ${toldAt - endedAt} ms after the job ended`);
	t.true(await eventually(async () => (await processesOnNode(alice)).length === 0, 15_000));
	await t.throwsAsync(session.attachKernel(kernel.id), { instanceOf: RemoteError });
});

test.serial("spyder-kernels 2.x's comm port reaches the client from the node", async (t) => {
	const session = await login(alice);
	const { kernel, forwarder } = await slurmKernel(session, {}, 'spyder');
	t.true(Number.isInteger(kernel.commPort), 'the comm port the kernel opened on the node is announced');
	t.is(forwarder.ports.comm, kernel.commPort);
	// A ZMTP handshake completes only if the kernel's ROUTER socket answers, on the node, at the end of the dial-back.
	(await ZmtpSocket.connect({ host: '127.0.0.1', port: kernel.commPort! }, 'DEALER')).close();
	const restarted = await session.restartKernel(kernel.id);
	await forwarder.follow(restarted);
	t.true(Number.isInteger(restarted.commPort));
	(await ZmtpSocket.connect({ host: '127.0.0.1', port: restarted.commPort! }, 'DEALER')).close();
	await session.shutdownKernel(kernel.id);
});

test.serial('the lease cancels the job of a kernel whose user has gone', async (t) => {
	const leased = await startTestServer({ listen: { host: slurmLab.controllerAddress, port: 0 }, kernels: { lease: 2 } });
	cleanups.push(() => leased.stop());
	const session = await leased.open({ host: slurmLab.controllerAddress });
	await session.loginWithPassword(alice.name, alice.password);
	const system = (await session.listEnvironments()).find((environment) => environment.kind === 'system')!;
	const kernel = await session.startKernel({ environment: system.id, kind: 'ipykernel', placement: { kind: 'slurm', timeLimit: '10' } });
	session.destroy();
	t.true(
		await eventually(async () => /JobState=CANCELLED/.test((await execa('scontrol', ['-o', 'show', 'job', kernel.job!.jobId])).stdout), 15_000),
		'scancel at lease expiry',
	);
	t.true(await eventually(async () => (await processesOnNode(alice)).length === 0, 15_000), 'nothing left on the node');
});

test.serial('a kernel that fails on the node fails its start with its stderr, and its job is cancelled', async (t) => {
	const session = await login(alice);
	const system = (await session.listEnvironments()).find((environment) => environment.kind === 'system')!;
	const jobs: KernelDidChangeJobParams[] = [];
	session.onKernelEvent((event) => event.type === 'job' && jobs.push(event.params));
	const failure = await t.throwsAsync(
		session.startKernel({ environment: system.id, kind: 'ipykernel', env: { PYTHONHOME: '/nonexistent' }, placement: { kind: 'slurm', timeLimit: '5' } }),
		{ instanceOf: RemoteError },
	);
	t.is(failure?.code, ErrorCodes.KernelFailed);
	t.regex(failure?.message ?? '', /exited during start-up on node1: .*(PYTHONHOME|encodings)/);
	const jobId = jobs[0]!.job.jobId;
	t.true(await eventually(async () => /JobState=(CANCELLED|COMPLETED)/.test((await execa('scontrol', ['-o', 'show', 'job', jobId])).stdout), 10_000));
	t.deepEqual(await session.listKernels(), []);
});

function refusals(): string[] {
	return logs.map((record) => String(record.line ?? '')).filter((line) => line.includes('node agent refused'));
}

/** What the thief of a saved job environment would read: Slurm keeps a pending job's environment in its state directory (root's to read). */
async function savedJobVariable(jobId: string, name: string): Promise<string> {
	const stateDir = /StateSaveLocation\s*=\s*(\S+)/.exec((await execa('scontrol', ['show', 'config'])).stdout)![1]!;
	const file = join(stateDir, `hash.${Number(jobId) % 10}`, `job.${jobId}`, 'environment');
	const entry = (await readFile(file, 'latin1')).split('\0').find((candidate) => candidate.includes(`${name}=`))!;
	return entry.slice(entry.indexOf(`${name}=`) + name.length + 1);
}

/** Dials the daemon as a node agent would, from the login node, and says hello: resolves true once the daemon has closed the link. */
async function dialAsAgent(token: string, hello: object): Promise<boolean> {
	const socket = tlsConnect({
		host: slurmLab.controllerAddress,
		port: server.server.port,
		ALPNProtocols: [NODE_AGENT_ALPN_PROTOCOL],
		rejectUnauthorized: false,
	});
	await new Promise((resolve, reject) => socket.once('secureConnect', resolve).once('error', reject));
	socket.write(`${token}\n${JSON.stringify(hello)}\n`);
	return Promise.race([
		new Promise<boolean>((resolve) => socket.once('close', () => resolve(true))),
		new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 10_000)),
	]);
}

test.serial('ssd kernel start --slurm runs the kernel in a job, reports the job, and Ctrl-C with --stop-on-exit cancels it', async (t) => {
	const configDir = join(server.directory, 'cli-config');
	const ssd = (args: string[]) =>
		execa(process.execPath, ['client-lib/dist/bin/ssd.js', ...args], {
			reject: false,
			input: `${alice.password}\n`,
			env: { SPYDER_REMOTE_CONFIG_DIR: configDir },
		});
	const target = [`${slurmLab.controllerAddress}:${server.server.port}`, '--user', alice.name, '--password-stdin', '--fingerprint', server.server.fingerprint];
	const injected = await ssd(['kernel', 'start', ...target, '--env', '/usr', '--slurm', 'partition=--wrap=id']);
	t.is(injected.exitCode, 2, injected.stderr);
	t.regex(injected.stderr, /--slurm: .*partition/);
	t.is((await ssd(['kernel', 'start', ...target, '--env', '/usr', '--slurm', 'nodes=4'])).exitCode, 2);

	const child = execa(
		process.execPath,
		[
			'client-lib/dist/bin/ssd.js',
			'kernel',
			'start',
			...target,
			'--env',
			'/usr',
			'--kind',
			'ipykernel',
			'--slurm',
			'partition=debug,time=10,cpus=1',
			'--stop-on-exit',
		],
		{
			reject: false,
			input: `${alice.password}\n`,
			env: { SPYDER_REMOTE_CONFIG_DIR: configDir },
		},
	);
	let stdout = '';
	child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
	t.true(await eventually(() => stdout.includes('is forwarded'), 60_000), stdout);
	const id = /Kernel ([0-9a-f]{16})/.exec(stdout)![1]!;
	const session = await login(alice);
	const kernel = (await session.listKernels()).find((entry) => entry.id === id)!;
	t.is(kernel.job?.node, 'node1');
	child.kill('SIGINT');
	const result = await child;
	t.is(result.exitCode, 0, result.stderr);
	t.regex(result.stderr, new RegExp(`ssd: job ${kernel.job!.jobId} pending`));
	t.regex(result.stderr, new RegExp(`ssd: job ${kernel.job!.jobId} running on node1`));
	t.true(
		await eventually(async () => /JobState=CANCELLED/.test((await execa('scontrol', ['-o', 'show', 'job', kernel.job!.jobId])).stdout), 10_000),
		'the job is cancelled',
	);
});
