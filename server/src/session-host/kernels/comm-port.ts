/**
 * The comm port: spyder-kernels 2.x binds one more socket at start, as
 * `<ip>-<port>` with a port number of its choosing; Spyder learns the
 * number from a comm message and connects to it, so the forwarder needs it.
 * spyder-kernels 3.x (Spyder 6) sends its comms as Jupyter comm messages on
 * the standard channels and has none.
 */
import { watch } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { ErrorCodes, type KernelChannel } from '@spyder-remote/protocol';
import { ResponseError } from 'vscode-jsonrpc/node';
import { channelPorts } from './connection.js';
import type { ManagedKernel } from './managed-kernel.js';

/** Scans after readiness, a second in all: the port's socket may appear a little after kernel_info is answered. */
const findAttempts = 20;
const findIntervalMs = 50;

/**
 * Only spyder-kernels 2.x has a comm port, so only for it is there anything
 * to wait for. A kernel of unknown version is treated as 2.x: the wait then
 * costs at most a second.
 */
export function opensCommPort(kernel: ManagedKernel): boolean {
	return kernel.kind === 'spyder' && !/^[3-9]\./.test(kernel.environment.spyderKernels ?? '');
}

/** The Unix socket of one channel of one kernel, for the tunnel; the comm channel only once the kernel has opened it. */
export function channelSocket(kernel: ManagedKernel, channel: KernelChannel): string {
	if (channel === 'comm') {
		if (kernel.commPort === undefined) throw new ResponseError(ErrorCodes.KernelUnavailable, `kernel ${kernel.id} has not opened its comm port`);
		return `${kernel.connection.ip}-${kernel.commPort}`;
	}
	return `${kernel.connection.ip}-${channelPorts[channel]}`;
}

/** Notices the comm port as soon as its socket appears in the kernel's directory. */
export function watchForCommPort(kernel: ManagedKernel): void {
	if (!opensCommPort(kernel)) return;
	try {
		kernel.watcher = watch(kernel.directory, { persistent: false }, () => void scanCommPort(kernel));
	} catch {
		// The scan after readiness still finds it.
	}
}

export async function scanCommPort(kernel: ManagedKernel): Promise<void> {
	const known = new Set(Object.values(channelPorts).map(String));
	for (const entry of await readdir(kernel.directory).catch(() => [])) {
		const port = /^kernel-(\d+)$/.exec(entry)?.[1];
		if (port && !known.has(port)) kernel.commPort = Number(port);
	}
}

/** Waits, briefly, for a ready kernel that opens a comm port to have opened it. */
export async function findCommPort(kernel: ManagedKernel): Promise<void> {
	if (!opensCommPort(kernel)) return;
	for (let attempt = 0; attempt < findAttempts && kernel.commPort === undefined; attempt += 1) {
		await scanCommPort(kernel);
		if (kernel.commPort === undefined) await new Promise((resolve) => setTimeout(resolve, findIntervalMs));
	}
}
