/**
 * Adoption: a session host that starts takes over the kernels that an
 * earlier host of the same user left running when it died (SIGKILL, a
 * crash) or stopped answering and was replaced by the daemon (spec 6.12.4).
 * A kernel is adopted only when its record and connection file are sound,
 * its process is alive, is this user's, leads its group and runs the
 * launcher on this directory's connection file, and its sockets answer.
 * Any other kernel directory is stopped and removed, so that nothing runs
 * on unlisted.
 */
import { lstat, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { connectionFileIn, KERNEL_ID, kernelsDirectory } from '../../common/runtime-layout.js';
import type { Logger } from '../../common/log.js';
import { hostsFor, kernelGroupsOn, killTargets, ownProcess, ownProcesses, stopTargets } from '../own-processes.js';
import { channelPorts, type KernelConnection } from './connection.js';
import { KernelClient } from './kernel-client.js';
import { adoptedProcess, type KernelProcess } from './kernel-process.js';
import { runsKernelOn } from '../../common/kernel-launcher.js';
import { readKernelFiles, type KernelRecord } from './record.js';

/** Short: the kernel already runs, and the host is not ready for its user until adoption is done. */
const connectTimeoutMs = 3_000;
/** A kernel running code answers kernel_info only when it is done; until then it is adopted as busy. */
const readyTimeoutMs = 2_000;
/** As long as a kernel gets between SIGTERM and SIGKILL in a normal shutdown. */
const kernelGraceMs = 2_000;
/** The user's text goes into the log: a reason is cut to this length. */
const maxReasonLength = 300;

export interface Orphan {
	readonly record: KernelRecord;
	readonly connection: KernelConnection;
	readonly directory: string;
	readonly process: KernelProcess;
	readonly client: KernelClient;
	readonly state: 'idle' | 'busy';
}

/** The kernels below `runtimeDirectory` that this host can take over. Never rejects: what cannot be adopted is logged. */
export async function findOrphans(runtimeDirectory: string, logger: Logger): Promise<Orphan[]> {
	try {
		// Two hosts must never both own a kernel. An earlier host still alive (stopped, or too slow for the daemon, which then
		// started this one) is killed, not asked to stop: a SIGTERM would make it shut its kernels down, the ones taken over here.
		const earlier = hostsFor(runtimeDirectory, await ownProcesses());
		if (earlier.length > 0) logger.warn({ hosts: earlier.length }, 'killing an earlier session host of this user, to take over its kernels');
		await killTargets(earlier);
		const kernels = kernelsDirectory(runtimeDirectory);
		const names = await readdir(kernels).catch(() => []);
		const orphans = await Promise.all(names.map((name) => adoptOne(kernels, name, logger)));
		return orphans.filter((orphan) => orphan !== undefined);
	} catch (error) {
		logger.error({ err: (error as Error).message }, 'could not look for kernels of an earlier session host');
		return [];
	}
}

async function adoptOne(kernels: string, name: string, logger: Logger): Promise<Orphan | undefined> {
	if (!KERNEL_ID.test(name)) {
		logger.warn({ entry: name.slice(0, maxReasonLength) }, 'not a kernel directory: left alone');
		return undefined;
	}
	const directory = join(kernels, name);
	try {
		const orphan = await adopt(directory, name);
		logger.info({ kernel: name, pid: orphan.record.pid, state: orphan.state }, 'adopted a kernel of an earlier session host');
		return orphan;
	} catch (error) {
		logger.warn(
			{ kernel: name, reason: (error as Error).message.slice(0, maxReasonLength) },
			'cannot adopt a kernel of an earlier session host: stopped and removed',
		);
		await discard(directory).catch((failure: Error) => logger.warn({ kernel: name, err: failure.message }, 'could not remove a kernel directory'));
		return undefined;
	}
}

async function adopt(directory: string, id: string): Promise<Orphan> {
	const stat = await lstat(directory);
	if (!stat.isDirectory() || stat.uid !== process.getuid!()) throw new Error('not a directory of this user');
	const { record, connection } = await readKernelFiles(directory, id);
	// Unreadable in /proc means exited: the check below refuses it with that reason.
	const running = await ownProcess(record.pid).catch(() => undefined);
	if (running?.startTime !== record.processStart) throw new Error(`process ${record.pid} has exited, or is not this user's`);
	if (running.pgid !== record.pid || !runsKernelOn(running.args, connectionFileIn(directory)))
		throw new Error(`process ${record.pid} is not a kernel on this directory's connection file`);
	for (const port of Object.values(channelPorts)) {
		// A socket that cannot be stat'ed is missing, and the error says so.
		if (!(await lstat(`${connection.ip}-${port}`).catch(() => undefined))?.isSocket()) throw new Error(`socket kernel-${port} is missing`);
	}
	const client = await KernelClient.connect(connection, { connectTimeoutMs, iopubTopic: 'kernel.' });
	const ready = await client.waitReady(readyTimeoutMs).then(
		() => true,
		() => false,
	);
	return { record, connection, directory, process: adoptedProcess(record.pid, record.processStart), client, state: ready ? 'idle' : 'busy' };
}

/** Stops whatever runs on the directory's connection file, found by command line among this user's processes, never by the record's pid. */
async function discard(directory: string): Promise<void> {
	await stopTargets(kernelGroupsOn([connectionFileIn(directory)], await ownProcesses()), kernelGraceMs);
	await rm(directory, { recursive: true, force: true });
}
