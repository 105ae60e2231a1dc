import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import test from 'ava';
import { execa } from 'execa';
import { ErrorCodes, KernelForwarder, RemoteError, type RemoteSession } from '@spyder-remote/client';
import type { Kernel, KernelDidChangeJobParams, KernelDidExitParams, KernelStartParams } from '@spyder-remote/protocol';
import { AGENT_SETTINGS_VARIABLE } from '../server/src/common/node-link.js';
import { KernelClient, type ConnectionInfo } from '../server/src/session-host/kernels/kernel-client.js';
import { withTestUsers, type TestUser } from './helpers/os-users.js';
import { startTestServer, type LogRecord, type TestServer } from './helpers/server.js';
import { slurmLab } from '../scripts/slurm-lab.mjs';

/**
 * Kernels in Slurm jobs, on a real Slurm cluster: the project's lab
 * (scripts/slurm-lab.mjs) runs slurmctld at 10.77.0.1 and node1's slurmd in
 * a network namespace of its own at 10.77.0.2, so a job reaches the daemon
 * only over TCP, as on a cluster.
 */
const newUser = withTestUsers(test);
let server: TestServer;
let alice: TestUser;
let labStartedHere = false;
const cleanups: (() => Promise<unknown>)[] = [];
const logs: LogRecord[] = [];

test.before(async () => {
	if (process.getuid?.() !== 0) throw new Error('Slurm tests need root: they run a Slurm lab and create OS users');
	labStartedHere = await slurmLab.up();
	alice = await newUser();
	server = await startTestServer({ listen: { host: slurmLab.controllerAddress, port: 0 } }, { onLog: (record) => logs.push(record) });
});
test.after.always(async () => {
	for (const cleanup of cleanups) await cleanup().catch(() => undefined);
	await server?.stop();
	if (alice) await execa('scancel', ['--user', alice.name], { reject: false });
	if (labStartedHere) await slurmLab.down();
});

async function login(user: TestUser): Promise<RemoteSession> {
	const session = await server.open({ host: slurmLab.controllerAddress });
	await session.loginWithPassword(user.name, user.password);
	cleanups.push(async () => session.destroy());
	return session;
}

async function slurmKernel(session: RemoteSession, placement: Omit<Extract<KernelStartParams['placement'], { kind: 'slurm' }>, 'kind'> = {}) {
	const system = (await session.listEnvironments()).find((environment) => environment.kind === 'system')!;
	const jobs: KernelDidChangeJobParams[] = [];
	const exits: KernelDidExitParams[] = [];
	session.onKernelEvent((event) => {
		if (event.type === 'job') jobs.push(event.params);
		if (event.type === 'exit') exits.push(event.params);
	});
	const kernel = await session.startKernel({ environment: system.id, kind: 'ipykernel', placement: { kind: 'slurm', partition: 'debug', timeLimit: '10', ...placement } });
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

const whereAmI = "import os, socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.connect(('10.77.0.1', 9)); print(socket.gethostname(), s.getsockname()[0], os.getuid(), os.environ.get('SLURM_JOB_ID'), os.environ.get('" + AGENT_SETTINGS_VARIABLE + "', 'no-token'))";

test.serial('a kernel started through Slurm runs on the node as the user, and scancel leaves nothing there', async (t) => {
	const session = await login(alice);
	const { kernel, client, jobs } = await slurmKernel(session);
	t.is(kernel.placement?.kind, 'slurm');
	t.regex(kernel.job?.jobId ?? '', /^\d+$/);
	t.is(kernel.job?.phase, 'running');
	t.is(kernel.job?.node, 'node1');
	t.is(kernel.pid, undefined, 'no local process to signal');
	t.true(jobs.some((event) => event.job.phase === 'pending'), `job notifications: ${jobs.map((event) => event.job.phase).join(',')}`);
	const [hostname, address, uid, jobId, token] = (await client.execute(whereAmI)).stdout.trim().split(' ');
	t.is(hostname, 'node1');
	t.is(address, '10.77.0.2');
	t.is(Number(uid), alice.uid);
	t.is(jobId, kernel.job!.jobId);
	t.is(token, 'no-token', 'the kernel does not inherit the agent token');
	t.not((await processesOnNode(alice)).length, 0);

	const listed = await session.listKernels();
	t.is(listed.find((entry) => entry.id === kernel.id)?.job?.jobId, kernel.job!.jobId);
	await session.shutdownKernel(kernel.id);
	t.true(await eventually(async () => (await processesOnNode(alice)).length === 0, 15_000), `left on the node: ${(await processesOnNode(alice)).join(' ')}`);
	const state = (await execa('scontrol', ['-o', 'show', 'job', kernel.job!.jobId])).stdout;
	t.regex(state, /JobState=(CANCELLED|COMPLETED)/);
});
