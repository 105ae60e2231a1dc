/**
 * A kernel's life: its directory and connection file, its process started
 * as the user (or adopted from an earlier host) and watched until it exits,
 * its state, and the firm stop (spyder-kernels 2.4 does not exit on
 * shutdown_request). Which kernels are listed is the manager's business.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { ErrorCodes, KernelDidChangeStateNotification, KernelDidExitNotification, type KernelKind, type KernelState } from '@spyder-remote/protocol';
import { ResponseError } from 'vscode-jsonrpc/node';
import { connectionFileIn, kernelsDirectory } from '../../common/runtime-layout.js';
import type { Logger } from '../../common/log.js';
import { keepTail } from '../../common/output-tail.js';
import type { ScannedEnvironment } from '../environments/scan.js';
import type { Orphan } from './adoption.js';
import { findCommPort, watchForCommPort } from './comm-port.js';
import { kernelConnection } from './connection.js';
import { KernelClient } from './kernel-client.js';
import { signalKernel, spawnedProcess, type KernelExit, type KernelProcess } from './kernel-process.js';
import { kernelArguments } from '../../common/kernel-launcher.js';
import { managedKernel, type ManagedKernel } from './managed-kernel.js';
import { recordKernel } from './record.js';

const readyTimeoutMs = 60_000;
const shutdownGraceMs = 2_000;

export interface KernelLifecycleOptions {
	/** A 0700 directory of the user; each kernel gets `kernels/<id>/` below it. */
	readonly runtimeDirectory: string;
	readonly home: string;
	readonly logger: Logger;
	/** Sends a notification to every connection of the user. */
	readonly broadcast: (method: string, params: unknown) => void;
	/** Called when a kernel is gone for good, exited or stopped: it is to be unlisted and discarded. */
	readonly forget: (kernel: ManagedKernel) => Promise<void>;
}

export class KernelLifecycle {
	constructor(private readonly options: KernelLifecycleOptions) {}

	/** A new kernel's directory and connection file; list it, then `launchFirst` it. */
	async prepare(environment: ScannedEnvironment, kind: KernelKind, cwd: string, env: Record<string, string>, warm: boolean): Promise<ManagedKernel> {
		const id = randomBytes(8).toString('hex');
		const directory = join(kernelsDirectory(this.options.runtimeDirectory), id);
		await mkdir(directory, { recursive: true, mode: 0o700 });
		// Never empty: jupyter_client's default empty key means unsigned messages.
		const connection = kernelConnection(directory, kind, randomBytes(32).toString('hex'));
		await writeFile(connectionFileIn(directory), JSON.stringify(connection), { mode: 0o600 });
		const kernel = managedKernel({ id, kind, environment, cwd, env, directory, connection, state: 'starting', startedAt: new Date(), warm });
		watchForCommPort(kernel);
		return kernel;
	}

	/** Launches a prepared kernel; one that fails to become ready is stopped, and the error says why. */
	async launchFirst(kernel: ManagedKernel): Promise<void> {
		kernel.launched = this.launch(kernel).catch(async (error: unknown) => {
			await this.stop(kernel);
			throw error;
		});
		await kernel.launched;
	}

	/** A kernel an earlier host left running (adoption.ts), supervised and followed as if this host had started it. */
	adopt(orphan: Orphan): ManagedKernel {
		const { id, kind, environment, cwd, env, startedAt } = orphan.record;
		const kernel = managedKernel({
			id,
			kind,
			environment,
			cwd,
			env,
			directory: orphan.directory,
			connection: orphan.connection,
			state: orphan.state,
			startedAt: new Date(startedAt),
			warm: false,
		});
		this.supervise(kernel, orphan.process);
		this.follow(kernel, orphan.client);
		watchForCommPort(kernel);
		return kernel;
	}

	interrupt(kernel: ManagedKernel): void {
		// Both supported kernels declare interrupt_mode "signal": SIGINT to the kernel process, not its group.
		signalKernel(kernel.process, 'SIGINT');
	}

	async restart(kernel: ManagedKernel): Promise<void> {
		kernel.restarting = true;
		this.setState(kernel, 'restarting');
		try {
			await this.terminate(kernel, true);
			await this.removeSockets(kernel);
			await this.launch(kernel);
		} catch (error) {
			await this.stop(kernel);
			throw error;
		} finally {
			kernel.restarting = false;
		}
	}

	async stop(kernel: ManagedKernel): Promise<void> {
		kernel.stopping = true;
		await this.terminate(kernel, false);
		await this.options.forget(kernel);
	}

	/** Last resort when the host itself is going down hard: no kernel may outlive it unsupervised. */
	killNow(kernel: ManagedKernel): void {
		signalKernel(kernel.process, 'SIGKILL');
	}

	/** Closes what follows an unlisted kernel and removes its directory. */
	async discard(kernel: ManagedKernel): Promise<void> {
		kernel.watcher?.close();
		kernel.client?.close();
		await kernel.remote?.release();
		kernel.removed = rm(kernel.directory, { recursive: true, force: true });
		await kernel.removed;
	}

	private async launch(kernel: ManagedKernel): Promise<void> {
		const module = kernel.kind === 'spyder' ? 'spyder_kernels.console' : 'ipykernel_launcher';
		// spyder-kernels 2.4 creates its config directory without exist_ok: two kernels starting at once for a new account race, and one dies.
		// If it cannot be made, the kernel fails to start with its own error in stderrTail.
		if (kernel.kind === 'spyder') await mkdir(join(this.options.home, '.config', 'spyder-py3'), { recursive: true }).catch(() => undefined);
		kernel.startedAt = new Date();
		const kernelProcess = kernel.remote ? await kernel.remote.start() : this.spawnLocal(kernel, module);
		this.supervise(kernel, kernelProcess);
		await recordKernel(kernel, this.options.logger);
		const died = kernelProcess.exited.then(() => {
			throw new ResponseError(ErrorCodes.KernelFailed, `the kernel exited during start-up: ${kernel.stderrTail.slice(-5).join(' | ') || 'no output'}`, {
				stderrTail: kernel.stderrTail,
			});
		});
		const client = await Promise.race([KernelClient.connect(kernel.connection, { connectTimeoutMs: readyTimeoutMs, iopubTopic: 'kernel.' }), died]).catch(
			(error: Error) => {
				throw error instanceof ResponseError
					? error
					: new ResponseError(ErrorCodes.KernelFailed, `the kernel did not open its sockets: ${error.message}`, { stderrTail: kernel.stderrTail });
			},
		);
		this.follow(kernel, client);
		await Promise.race([client.waitReady(readyTimeoutMs), died]).catch((error: Error) => {
			throw error instanceof ResponseError
				? error
				: new ResponseError(ErrorCodes.KernelFailed, `the kernel did not become ready: ${error.message}`, { stderrTail: kernel.stderrTail });
		});
		await findCommPort(kernel);
		this.setState(kernel, 'idle');
	}

	/** A kernel beside this host: a child in a process group of its own. */
	private spawnLocal(kernel: ManagedKernel, module: 'spyder_kernels.console' | 'ipykernel_launcher'): KernelProcess {
		const child = execa(kernel.environment.python, kernelArguments(module, kernel.connectionFile), {
			cwd: kernel.cwd,
			env: kernel.env,
			stdin: 'ignore',
			stdout: 'ignore',
			buffer: false,
			reject: false,
			// A group of its own: shutdown reaches anything the user's code started.
			detached: true,
		});
		kernel.stderrTail = keepTail(child.stderr!);
		return spawnedProcess(child);
	}

	private supervise(kernel: ManagedKernel, kernelProcess: KernelProcess): void {
		kernel.process = kernelProcess;
		void kernelProcess.exited.then((exit) => this.exited(kernel, kernelProcess, exit));
	}

	private follow(kernel: ManagedKernel, client: KernelClient): void {
		kernel.client = client;
		client.onStatus((state) => {
			if (!kernel.restarting && !kernel.stopping && (state === 'busy' || state === 'idle')) this.setState(kernel, state);
		});
	}

	private exited(kernel: ManagedKernel, kernelProcess: KernelProcess, { exitCode, signal, reason }: KernelExit): void {
		if (kernel.process !== kernelProcess) return;
		kernel.client?.close();
		kernel.client = undefined;
		if (kernel.warm) {
			this.setState(kernel, 'dead');
			void this.options.forget(kernel);
			return;
		}
		this.options.broadcast(KernelDidExitNotification.method, {
			id: kernel.id,
			...(exitCode !== undefined ? { exitCode } : {}),
			...(signal ? { signal } : {}),
			stderrTail: kernel.stderrTail,
			restarting: kernel.restarting,
			...(reason ? { reason } : {}),
		});
		if (kernel.restarting) return;
		this.setState(kernel, 'dead');
		void this.options.forget(kernel);
	}

	/** shutdown_request, then SIGTERM to the group after a grace period, then SIGKILL. */
	private async terminate(kernel: ManagedKernel, restart: boolean): Promise<void> {
		const child = kernel.process;
		if (!child?.running) return;
		const exited = child.exited.then(() => true);
		const within = (ms: number) => Promise.race([exited, new Promise<false>((resolve) => setTimeout(() => resolve(false), ms))]);
		// spyder-kernels 2.4 does not exit on shutdown_request, and the shutdown_reply it broadcasts on
		// IOPub lacks `restart` (its do_shutdown returns None). qtconsole-based frontends, Spyder among
		// them, read that as "shut down for good" and close their console. A restart skips to SIGTERM.
		const askFirst = !(restart && kernel.kind === 'spyder');
		if (askFirst) {
			// Unanswered or refused, the request is only the polite first step: SIGTERM follows.
			await kernel.client
				?.shutdown(restart, { timeoutMs: shutdownGraceMs })
				.catch((error: Error) => this.options.logger.debug({ kernel: kernel.id, reason: error.message }, 'shutdown_request failed; signalling the kernel'));
			if (await within(shutdownGraceMs)) return;
		}
		signalKernel(child, 'SIGTERM');
		if (await within(shutdownGraceMs)) return;
		signalKernel(child, 'SIGKILL');
		await exited;
	}

	/** Before a restart: the old kernel's sockets, its comm port among them, are not the new one's. */
	private async removeSockets(kernel: ManagedKernel): Promise<void> {
		for (const entry of await readdir(kernel.directory).catch(() => [])) {
			if (entry.startsWith('kernel-')) await rm(join(kernel.directory, entry), { force: true });
		}
		kernel.commPort = undefined;
	}

	private setState(kernel: ManagedKernel, state: KernelState): void {
		if (kernel.state === state) return;
		kernel.state = state;
		if (!kernel.warm) this.options.broadcast(KernelDidChangeStateNotification.method, { id: kernel.id, state });
	}
}
