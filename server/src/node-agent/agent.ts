import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { watch } from 'node:fs';
import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { connect as connectUnix, type Socket } from 'node:net';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as connectTls, type TLSSocket } from 'node:tls';
import { NODE_AGENT_ALPN_PROTOCOL } from '@spyder-remote/protocol';
import { fingerprintOf, splice } from '@spyder-remote/protocol/node';
import { kernelArguments } from '../common/kernel-launcher.js';
import { attestationPayload, readLines, sendLine, type AgentSettings, type HostMessage } from '../common/node-link.js';
import { keepTail } from '../common/output-tail.js';
import { killProcessGroup } from '../common/process-group.js';

const dialTimeoutMs = 10_000;
const stopGraceMs = 2_000;
const bindTimeoutMs = 60_000;
const bindPollMs = 50;

/**
 * The node agent: runs in the user's Slurm job, on the compute node, as the
 * user. It starts the kernel on Unix sockets in a private directory of the
 * node and dials back to the daemon, never listening on any port. One
 * control connection carries the host's orders; each kernel socket the
 * host wants opened travels in a dial-back of its own, spliced to the
 * kernel's Unix socket.
 */
export class NodeAgent {
	private kernel: ChildProcess | undefined;
	private stderrTail: readonly string[] = [];
	private directory = '';
	private control: TLSSocket | undefined;
	private finished = false;
	private everStarted = false;
	private starting = false;

	constructor(
		private readonly settings: AgentSettings,
		private readonly jobId: string,
		private readonly daemonHost: string,
	) {}

	/** Resolves when the agent is done: the host said stop, the link dropped, or Slurm signalled the job. */
	async run(): Promise<number> {
		this.directory = await mkdtemp(join(process.env.TMPDIR || tmpdir(), 'spyder-remote-kernel-'));
		const connection = { ...this.settings.connection, ip: join(this.directory, 'kernel') };
		await writeFile(this.connectionFile, JSON.stringify(connection), { mode: 0o600 });
		const credential = await mungeCredential(attestationPayload(this.jobId, this.settings.token));
		const control = await this.dial(this.settings.token);
		this.control = control;
		sendLine(control, { type: 'hello', jobId: this.jobId, hostname: hostname(), credential });
		return new Promise<number>((resolve) => {
			const finish = (code: number) => {
				if (this.finished) return;
				this.finished = true;
				void this.stopKernel().finally(() => rm(this.directory, { recursive: true, force: true }).finally(() => resolve(code)));
			};
			// Slurm's scancel and time limit send SIGTERM first. The link goes first, so that the host asks Slurm why
			// (a kernel exit reported over the link would look like the kernel's own); then the kernel's whole group goes.
			const signalled = (code: number) => () => {
				control.destroy();
				finish(code);
			};
			process.once('SIGTERM', signalled(143));
			process.once('SIGINT', signalled(130));
			control.once('close', () => {
				if (!this.everStarted) process.stderr.write('ssd-node-agent: the daemon closed the link before any kernel was started (a refused token?)\n');
				finish(this.everStarted ? 0 : 1);
			});
			readLines(control, (message) => this.obey(message as HostMessage));
		});
	}

	private get connectionFile(): string {
		return join(this.directory, 'connection.json');
	}

	private obey(message: HostMessage): void {
		if (message.type === 'start') void this.startKernel();
		else if (message.type === 'signal' && ['SIGINT', 'SIGTERM', 'SIGKILL'].includes(message.signal)) this.signalKernel(message.signal);
		else if (message.type === 'open' && Number.isInteger(message.port) && typeof message.token === 'string') void this.open(message.port, message.token);
	}

	private async startKernel(): Promise<void> {
		if (this.kernel || this.starting) return;
		this.everStarted = true;
		this.starting = true;
		// A killed kernel leaves its socket files behind; the new one must not be taken as bound before it is.
		for (const entry of await readdir(this.directory).catch(() => [])) if (entry.startsWith('kernel-')) await rm(join(this.directory, entry), { force: true });
		this.starting = false;
		const child = spawn(this.settings.python, kernelArguments(this.settings.module, this.connectionFile), {
			cwd: this.settings.cwd,
			env: { ...process.env, ...this.settings.env },
			stdio: ['ignore', 'ignore', 'pipe'],
			// A group of its own: a signal reaches whatever the user's code started.
			detached: true,
		});
		this.kernel = child;
		this.stderrTail = keepTail(child.stderr!);
		child.once('error', () => undefined);
		child.once('exit', (exitCode, signal) => {
			if (this.kernel === child) this.kernel = undefined;
			if (this.control && !this.control.destroyed) {
				sendLine(this.control, { type: 'exited', ...(exitCode !== null ? { exitCode } : {}), ...(signal ? { signal } : {}), stderrTail: this.stderrTail });
			}
		});
		void this.announceWhenBound(child);
	}

	/**
	 * `started` once the kernel has bound all its sockets: a connection the
	 * host carries here before then would be refused on the node, and the
	 * host's side would read that as a kernel that closed on it.
	 */
	private async announceWhenBound(child: ChildProcess): Promise<void> {
		const ports = ['shell_port', 'iopub_port', 'stdin_port', 'control_port', 'hb_port'].map(
			(key) => (this.settings.connection as Record<string, unknown>)[key],
		);
		const paths = ports.map((port) => `${join(this.directory, 'kernel')}-${String(port)}`);
		for (let waited = 0; waited < bindTimeoutMs; waited += bindPollMs) {
			if (this.kernel !== child) return;
			const bound = await Promise.all(
				paths.map((path) =>
					stat(path).then(
						(info) => info.isSocket(),
						() => false,
					),
				),
			);
			if (bound.every(Boolean)) {
				sendLine(this.control!, { type: 'started', pid: child.pid! });
				this.watchForCommPort(child, new Set(ports.map(String)));
				return;
			}
			await new Promise((resolve) => setTimeout(resolve, bindPollMs));
		}
	}

	/** spyder-kernels 2.x binds one more socket, `kernel-<N>`, at a number of its choosing: the host needs to know it. */
	private watchForCommPort(child: ChildProcess, known: Set<string>): void {
		const scan = async () => {
			if (this.kernel !== child) return watcher.close();
			for (const entry of await readdir(this.directory).catch(() => [])) {
				const port = /^kernel-(\d+)$/.exec(entry)?.[1];
				if (!port || known.has(port)) continue;
				known.add(port);
				sendLine(this.control!, { type: 'comm', port: Number(port) });
			}
		};
		const watcher = watch(this.directory, { persistent: false }, () => void scan());
		void scan();
	}

	/** SIGINT goes to the kernel alone (interrupt_mode signal); a stop goes to its whole group. */
	private signalKernel(signal: 'SIGINT' | 'SIGTERM' | 'SIGKILL'): void {
		const pid = this.kernel?.pid;
		if (pid === undefined) return;
		if (signal === 'SIGINT') process.kill(pid, signal);
		else killProcessGroup(pid, signal);
	}

	private async stopKernel(): Promise<void> {
		const child = this.kernel;
		if (!child?.pid) return;
		const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
		killProcessGroup(child.pid, 'SIGTERM');
		const timer = setTimeout(() => killProcessGroup(child.pid, 'SIGKILL'), stopGraceMs);
		await exited;
		clearTimeout(timer);
		// Anything of the group still alive after its leader (a child that ignored SIGTERM) goes now.
		killProcessGroup(child.pid, 'SIGKILL');
	}

	/** One kernel socket for the host: connect to it here, dial back with the stream's token, splice. */
	private async open(port: number, token: string): Promise<void> {
		const local: Socket = connectUnix(`${join(this.directory, 'kernel')}-${port}`);
		local.on('error', () => undefined);
		const connected = await new Promise<boolean>((resolve) => {
			local.once('connect', () => resolve(true));
			local.once('error', () => resolve(false));
		});
		// A kernel that is restarting has no sockets for a moment; the host's side reconnects.
		const remote = await this.dial(token).catch(() => undefined);
		if (!connected || !remote) {
			local.destroy();
			remote?.destroy();
			return;
		}
		remote.setNoDelay(true);
		splice(remote, local);
	}

	/** A TLS connection to the daemon with the agent ALPN, to the pinned certificate only, that has sent its token line. */
	private dial(token: string): Promise<TLSSocket> {
		return new Promise((resolve, reject) => {
			const socket = connectTls({
				host: this.daemonHost,
				port: this.settings.daemonPort,
				ALPNProtocols: [NODE_AGENT_ALPN_PROTOCOL],
				minVersion: 'TLSv1.3',
				// Pinned by fingerprint below, as the client pins it: the certificate is usually self-signed.
				rejectUnauthorized: false,
				servername: /^[0-9.:]+$/.test(this.daemonHost) ? undefined : this.daemonHost,
			});
			const timer = setTimeout(() => socket.destroy(new Error(`no answer from ${this.daemonHost}:${this.settings.daemonPort}`)), dialTimeoutMs);
			socket.once('error', (error) => {
				clearTimeout(timer);
				reject(error);
			});
			socket.once('secureConnect', () => {
				clearTimeout(timer);
				if (socket.alpnProtocol !== NODE_AGENT_ALPN_PROTOCOL || fingerprintOf(socket.getPeerCertificate().raw) !== this.settings.fingerprint) {
					socket.destroy();
					reject(new Error(`${this.daemonHost}:${this.settings.daemonPort} is not the daemon that started this job (certificate or ALPN differ)`));
					return;
				}
				socket.write(`${token}\n`);
				resolve(socket);
			});
		});
	}
}

/** A MUNGE credential for `payload`, made as this user by the node's munged (see attestationPayload). */
function mungeCredential(payload: string): Promise<string> {
	return new Promise((resolve, reject) => {
		execFile('munge', ['--string', payload], { timeout: 10_000 }, (error, stdout) =>
			error ? reject(new Error(`munge failed: ${error.message}`)) : resolve(stdout.trim()),
		);
	});
}
