/**
 * The leftover reaper. The daemon runs it at start, before any session host,
 * as the user and for that user's runtime directory, when an earlier daemon
 * left something there: it was killed (SIGKILL, OOM) and so were its session
 * hosts, whose kernels then run on with nobody to stop them. The reaper stops
 * what is left and removes its sockets and directories. It never re-adopts a
 * kernel: after a crash no client is attached any more (spec 6.12.4). A
 * restart that the daemon handed over (leftovers.ts) does not run it; the
 * users' next session hosts adopt those kernels (kernels/adoption.ts). It prints one JSON summary line
 * (ReapSummary). It signals only the user's own processes (own-processes.ts),
 * and as it runs as the user, the kernel would refuse any other anyway.
 */
import { lstat, readdir, rm, unlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { ReapSummary } from '../common/reap-summary.js';
import { connectionFileIn, HOST_SOCKET_NAME, kernelsDirectory } from '../common/runtime-layout.js';
import { hostsFor, kernelGroupsOn, ownProcesses, stopTargets } from '../session-host/own-processes.js';

/** A host stops its kernels on SIGTERM: shutdown_request, SIGTERM and SIGKILL at 2 s each. */
const hostGraceMs = 8_000;
/** As long as a kernel gets between SIGTERM and SIGKILL in a normal shutdown. */
const kernelGraceMs = 2_000;

const { values } = parseArgs({ options: { directory: { type: 'string' } } });
if (!values.directory?.startsWith('/')) {
	process.stderr.write('usage: reap --directory ABSOLUTE_PATH (started by ssd-server, not by hand)\n');
	process.exit(2);
}
const directory = resolve(values.directory);
const uid = process.getuid!();
const own = await lstat(directory);
if (!own.isDirectory() || own.uid !== uid) throw new Error(`${directory} is not a directory of uid ${uid}`);

// Session hosts first: on SIGTERM a host stops its own kernels, the gentle way (shutdown_request first).
const hosts = hostsFor(directory, await ownProcesses());
await stopTargets(hosts, hostGraceMs);

// Then every kernel still running on a connection file here: its host was killed, or did not manage in time.
const kernels = kernelsDirectory(directory);
// No kernels/ directory (never made, or already removed) means no kernels to reap.
const kernelDirectories = (await lstat(kernels).catch(() => undefined))?.isDirectory() ? await readdir(kernels) : [];
const connectionFiles = kernelDirectories.map((id) => connectionFileIn(join(kernels, id)));
const kernelGroups = kernelGroupsOn(connectionFiles, await ownProcesses());
await stopTargets(kernelGroups, kernelGraceMs);

await rm(kernels, { recursive: true, force: true });
let sockets = 0;
for (const name of await readdir(directory)) {
	if (!HOST_SOCKET_NAME.test(name) || !(await lstat(join(directory, name))).isSocket()) continue;
	await unlink(join(directory, name));
	sockets += 1;
}

const summary: ReapSummary = { hosts: hosts.length, kernels: kernelGroups.length, directories: kernelDirectories.length, sockets };
process.stdout.write(`${JSON.stringify(summary)}\n`);
