import { lookup } from 'node:dns/promises';
import { rm } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { ErrorCodes, KernelDidChangeJobNotification, type Placement, type SlurmJob, type SlurmPlacement } from '@spyder-remote/protocol';
import { splice } from '@spyder-remote/protocol/node';
import { ResponseError } from 'vscode-jsonrpc/node';
import type { Logger } from '../../../common/log.js';
import {
	AGENT_SETTINGS_VARIABLE,
	attestationPayload,
	readLines,
	sendLine,
	type AgentMessage,
	type AgentSettings,
	type HostMessage,
} from '../../../common/node-link.js';
import { channelPorts } from '../connection.js';
import type { KernelExit, KernelProcess } from '../kernel-process.js';
import type { ManagedKernel } from '../managed-kernel.js';
import { batchScript, sbatchArguments } from './sbatch-arguments.js';
import { cancelJob, decodeCredential, jobStatus, nodeAddress, submitBatchJob, type JobStatus } from './slurm-commands.js';
import type { SlurmContext } from './slurm-kernels.js';

/** How often a job is looked at while it waits, starts, or after its agent's link dropped. */
const pollMs = 250;
/** How long a stream's dial-back may take before the local connection is dropped (its ZMQ socket reconnects). */
const streamTimeoutMs = 10_000;
/** How long after the link drops the job's final state is waited for. */
const finalStateMs = 5_000;
/** The control token lives as long as the job may wait in the queue; it is revoked when the kernel goes. */
const controlTokenMs = 7 * 24 * 3600 * 1000;

const endedStates = new Set([
	'COMPLETED',
	'CANCELLED',
	'FAILED',
	'TIMEOUT',
	'PREEMPTED',
	'NODE_FAIL',
	'BOOT_FAIL',
	'DEADLINE',
	'OUT_OF_MEMORY',
	'REVOKED',
	'SPECIAL_EXIT',
]);

/**
 * One kernel in a Slurm job (spec 6.15): submits the job, follows it
 * through the queue, takes its node agent's dial-back, and stands in for
 * the kernel's sockets on this host (Unix sockets at the usual paths, each
 * connection carried to the node in a dial-back of its own). To the
 * manager it is a kernel process that is started, signalled and exits.
 */
export class SlurmKernel {
	private job: SlurmJob | undefined;
	private link: Socket | undefined;
	private linked: Promise<Socket> | undefined;
	/** The one-use token of the control link, which the agent's MUNGE credential must name. */
	private controlToken = '';
	/** Resolves `linked` once the agent's control link is verified. */
	private acceptLink: ((link: Socket) => void) | undefined;
	private proxies: Server[] = [];
	private onAgent: ((message: AgentMessage) => void) | undefined;
	private released = false;
	private failure: string | undefined;

	constructor(
		private readonly kernel: ManagedKernel,
		private readonly placement: SlurmPlacement,
		private readonly context: SlurmContext,
		private readonly logger: Logger,
	) {}

	describe(): { placement: Placement; job?: SlurmJob } {
		return { placement: this.placement, ...(this.job ? { job: this.job } : {}) };
	}

	/** Starts the kernel: the first time by submitting the job and waiting for its agent, later (restart) in the same allocation. */
	async start(): Promise<KernelProcess> {
		this.linked ??= this.submitAndWait();
		const link = await this.linked;
		// A restart after the job has ended (the link dropped, the kernel's exit is on its way) has no allocation to run in.
		if (link.destroyed)
			throw new ResponseError(ErrorCodes.KernelFailed, `the kernel's job ended: ${this.failure ?? 'the node agent disconnected'}`, {
				stderrTail: this.kernel.stderrTail,
			});
		await this.openProxies();
		const outcome = this.next(link, (message) => (message.type === 'started' || message.type === 'exited' ? message : undefined));
		sendLine(link, { type: 'start' });
		const first = await outcome;
		if (first.type === 'exited') {
			this.kernel.stderrTail = Array.isArray(first.stderrTail) ? first.stderrTail.map(String) : [];
			const said = this.kernel.stderrTail.slice(-5).join(' | ') || 'no output';
			throw new ResponseError(ErrorCodes.KernelFailed, `the kernel exited during start-up on ${this.job?.node ?? 'the node'}: ${said}`, {
				stderrTail: this.kernel.stderrTail,
			});
		}
		return this.kernelProcess(link);
	}

	/** Cancels the job (pending or running) and closes everything of it here. */
	async release(): Promise<void> {
		if (this.released) return;
		this.released = true;
		this.context.links.revoke(this.kernel.id);
		this.closeProxies();
		// scancel before the link closes: an agent that lost its link first would end the job as FAILED instead.
		if (this.job && this.job.phase !== 'ended' && this.job.phase !== 'failed') {
			await cancelJob(this.job.jobId).catch((error: Error) => this.logger.warn({ err: error.message, job: this.job?.jobId }, 'scancel failed'));
		}
		this.link?.destroy();
	}

	private async submitAndWait(): Promise<Socket> {
		const { settings, dial } = this.context;
		const linkArrived = new Promise<Socket>((resolve) => {
			this.acceptLink = resolve;
		});
		const token = this.context.links.issue(
			{ kernelId: this.kernel.id, directory: this.kernel.directory, accept: (link, peer) => void this.verifyLink(link, peer) },
			controlTokenMs,
		);
		this.controlToken = token;
		const agentSettings: AgentSettings = {
			daemonHost: settings.dialAddress ?? '',
			daemonPort: dial.port,
			fingerprint: dial.fingerprint,
			token,
			python: this.kernel.environment.python,
			module: this.kernel.kind === 'spyder' ? 'spyder_kernels.console' : 'ipykernel_launcher',
			cwd: this.kernel.cwd,
			env: this.kernel.env,
			connection: this.kernel.connection,
		};
		const args = [...sbatchArguments(this.placement, settings), `--chdir=${this.kernel.cwd}`];
		let jobId: string;
		try {
			// The settings (and the token) go in the job's environment: Slurm shows it to the user and root only, unlike argv.
			jobId = await submitBatchJob(args, batchScript(process.execPath, this.context.agentEntry), { [AGENT_SETTINGS_VARIABLE]: JSON.stringify(agentSettings) });
		} catch (error) {
			throw new ResponseError(ErrorCodes.KernelFailed, `Slurm refused the job: ${(error as Error).message}`, { stderrTail: [] });
		}
		this.setJob({ jobId, phase: 'pending', state: 'PENDING' });
		this.logger.info({ job: jobId, args }, 'kernel job submitted');
		const ended = this.followUntilLinked(jobId, linkArrived);
		return Promise.race([linkArrived, ended]);
	}

	/** Polls the job until its agent has called back: pending (with the reason), starting; a job that ends first fails the start. */
	private async followUntilLinked(jobId: string, linkArrived: Promise<Socket>): Promise<never> {
		let linked = false;
		void linkArrived.then(() => (linked = true));
		for (;;) {
			await new Promise((resolve) => setTimeout(resolve, pollMs));
			if (linked) return new Promise<never>(() => undefined);
			if (this.released) throw new ResponseError(ErrorCodes.KernelFailed, `the job ${jobId} was cancelled before the kernel started`, { stderrTail: [] });
			const status = await jobStatus(jobId).catch(() => undefined);
			if (linked) return new Promise<never>(() => undefined);
			if (!status) continue;
			if (endedStates.has(status.state)) {
				this.setJob({ jobId, phase: 'failed', state: status.state, reason: status.reason, ...(status.node ? { node: status.node } : {}) });
				throw new ResponseError(ErrorCodes.KernelFailed, `the job ${jobId} ended before its kernel started: ${describeEnd(status)}`, { stderrTail: [] });
			}
			const phase = status.state === 'PENDING' ? 'pending' : 'starting';
			this.setJob({ jobId, phase, state: status.state, reason: status.reason, ...(status.node ? { node: status.node } : {}) });
		}
	}

	/**
	 * The control link is taken only from the job's own agent: its hello must
	 * name this job and this uid, and it must come from the address of the
	 * node Slurm says the job runs on. Anything else is closed.
	 */
	private async verifyLink(link: Socket, peer: string): Promise<void> {
		const refuse = (reason: string) => {
			this.logger.warn({ job: this.job?.jobId, peer, reason }, 'node agent refused');
			link.destroy();
		};
		const hello = await new Promise<AgentMessage | undefined>((resolve) => {
			const timer = setTimeout(() => resolve(undefined), streamTimeoutMs);
			let first = true;
			readLines(link, (message) => {
				clearTimeout(timer);
				if (first) resolve(message as AgentMessage);
				// Only the kernel's own, verified link speaks for the kernel.
				else if (link !== this.link) return;
				else if (message.type === 'comm' && Number.isInteger(message.port)) void this.openProxy(message.port as number).catch(() => undefined);
				else this.onAgent?.(message as AgentMessage);
				first = false;
			});
			link.once('close', () => resolve(undefined));
		});
		if (hello?.type !== 'hello') return refuse('no hello');
		if (hello.jobId !== this.job?.jobId) return refuse(`the agent belongs to job ${String(hello.jobId).slice(0, 20)}, not to this kernel's job`);
		const attested = typeof hello.credential === 'string' ? await decodeCredential(hello.credential) : undefined;
		if (attested?.uid !== process.getuid!())
			return refuse(`its MUNGE credential is missing, invalid, replayed or made by uid ${attested?.uid ?? '(none)'}, not by this user`);
		if (attested.payload !== attestationPayload(hello.jobId, this.controlToken)) return refuse('its MUNGE credential is for another job or token');
		const status = await jobStatus(hello.jobId).catch(() => undefined);
		const expected = status?.node ? await addressesOf(status.node) : [];
		if (!expected.includes(peer.replace(/^::ffff:/, '')))
			return refuse(`it dialed from ${peer}, not from the job's node ${status?.node ?? '(none)'} (${expected.join(', ')})`);
		if (this.link || this.released) return refuse('the kernel already has its agent');
		this.link = link;
		this.setJob({ ...this.job, phase: 'running', state: 'RUNNING', node: hello.hostname, reason: 'None' });
		link.once('close', () => void this.linkLost());
		this.acceptLink?.(link);
	}

	/** The agent's link dropped: the job ended (time limit, preemption, scancel) or the node died. Slurm says why. */
	private async linkLost(): Promise<void> {
		const jobId = this.job?.jobId;
		if (!jobId || this.released) return;
		const deadline = Date.now() + finalStateMs;
		let status: JobStatus | undefined;
		do {
			status = await jobStatus(jobId).catch(() => undefined);
			if (status && endedStates.has(status.state)) break;
			await new Promise((resolve) => setTimeout(resolve, pollMs));
		} while (Date.now() < deadline);
		this.failure = status ? describeEnd(status) : 'the node agent disconnected';
		this.setJob({
			...this.job!,
			phase: status && endedStates.has(status.state) && status.state !== 'COMPLETED' ? 'failed' : 'ended',
			...(status ? { state: status.state, reason: status.reason } : {}),
		});
		this.onAgent?.({ type: 'exited', stderrTail: [] });
	}

	/** Waits for the first agent message `pick` accepts; the link closing first fails with Slurm's reason. */
	private next<T>(link: Socket, pick: (message: AgentMessage) => T | undefined): Promise<T> {
		return new Promise<T>((resolve, reject) => {
			const onClose = () =>
				reject(
					new ResponseError(ErrorCodes.KernelFailed, `the kernel's job ended: ${this.failure ?? 'the node agent disconnected'}`, {
						stderrTail: this.kernel.stderrTail,
					}),
				);
			link.once('close', onClose);
			const previous = this.onAgent;
			this.onAgent = (message) => {
				const picked = pick(message);
				if (picked === undefined) return previous?.(message);
				this.onAgent = previous;
				link.off('close', onClose);
				resolve(picked);
			};
		});
	}

	/** The kernel as the manager sees a process: no local pid, signals go to the agent, exit comes from the agent or with the job's end. */
	private kernelProcess(link: Socket): KernelProcess {
		let running = true;
		const exited = new Promise<KernelExit>((resolve) => {
			const finish = (exit: KernelExit) => {
				if (!running) return;
				running = false;
				resolve(exit);
			};
			const previous = this.onAgent;
			this.onAgent = (message) => {
				if (message.type !== 'exited') return previous?.(message);
				this.onAgent = previous;
				this.kernel.stderrTail = Array.isArray(message.stderrTail) ? message.stderrTail.map(String) : [];
				finish({
					...(typeof message.exitCode === 'number' ? { exitCode: message.exitCode } : {}),
					...(typeof message.signal === 'string' ? { signal: message.signal } : {}),
					...(this.failure ? { reason: this.failure } : {}),
				});
			};
		});
		return {
			pid: undefined,
			get running() {
				return running;
			},
			exited,
			signal: (signal) => {
				if (!link.destroyed) sendLine(link, { type: 'signal', signal } satisfies HostMessage);
			},
		};
	}

	/** Unix sockets at the kernel's usual paths on this host; each connection is carried to the node. */
	private async openProxies(): Promise<void> {
		this.closeProxies();
		for (const port of Object.values(channelPorts)) await this.openProxy(port);
	}

	/**
	 * One stand-in socket, `<ip>-<port>`. The comm port of spyder-kernels 2.x
	 * gets one too when the agent reports it, and the manager's watch of the
	 * kernel directory then finds it there as it would a local kernel's.
	 */
	private async openProxy(port: number): Promise<void> {
		const path = `${this.kernel.connection.ip}-${port}`;
		await rm(path, { force: true });
		const server = createServer({ pauseOnConnect: true }, (local) => this.carry(local, port));
		await new Promise<void>((resolve, reject) => {
			server.once('error', reject);
			server.listen(path, resolve);
		});
		this.proxies.push(server);
	}

	private closeProxies(): void {
		for (const server of this.proxies) server.close();
		this.proxies = [];
	}

	/** One local connection: a stream token to the agent over the link, and the agent's dial-back with it spliced to this connection. */
	private carry(local: Socket, port: number): void {
		local.on('error', () => undefined);
		const link = this.link;
		if (!link || link.destroyed) return void local.destroy();
		const timer = setTimeout(() => local.destroy(), streamTimeoutMs);
		const token = this.context.links.issue(
			{
				kernelId: this.kernel.id,
				directory: this.kernel.directory,
				accept: (remote) => {
					clearTimeout(timer);
					if (local.destroyed) return void remote.destroy();
					splice(local, remote);
				},
			},
			streamTimeoutMs,
		);
		sendLine(link, { type: 'open', port, token });
	}

	private setJob(job: SlurmJob): void {
		const before = this.job;
		this.job = job;
		if (before && before.phase === job.phase && before.reason === job.reason && before.node === job.node) return;
		this.context.broadcast(KernelDidChangeJobNotification.method, { id: this.kernel.id, job });
	}
}

function describeEnd(status: JobStatus): string {
	return status.reason && status.reason !== 'None' ? `${status.state} (${status.reason})` : status.state;
}

/** A node's addresses: its NodeAddr as Slurm knows it, resolved if it is a name. */
async function addressesOf(node: string): Promise<string[]> {
	const address = (await nodeAddress(node).catch(() => undefined)) ?? node;
	if (/^[0-9.]+$|:/.test(address)) return [address];
	return (await lookup(address, { all: true }).catch(() => [])).map((entry) => entry.address);
}
