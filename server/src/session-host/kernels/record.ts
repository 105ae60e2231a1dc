/**
 * The kernel record: what a session host keeps in a kernel's directory so
 * that the user's next host can take the kernel over when this one dies
 * (adoption.ts). The HMAC key and socket paths are in the connection file
 * beside it; the record holds the rest. Both files are the user's own, so
 * reading them is a question of robustness, not trust: anything malformed,
 * oversized or not a regular file is refused with a reason, never followed.
 */
import { randomBytes } from 'node:crypto';
import { rename, rm, writeFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { EnvironmentId, KernelId, KernelKind, Type, validate, type Static } from '@spyder-remote/protocol';
import { readRegularText, RefusedFileError } from '../../common/bounded-file.js';
import { connectionFileIn, kernelRecordIn } from '../../common/runtime-layout.js';
import type { Logger } from '../../common/log.js';
import { ownProcess } from '../own-processes.js';
import { kernelConnection, type KernelConnection } from './connection.js';
import type { ManagedKernel } from './managed-kernel.js';

const absolutePath = Type.String({ minLength: 1, maxLength: 4096, pattern: '^/[^\\x00]*$' });

const KernelRecord = Type.Object(
	{
		version: Type.Literal(1),
		id: KernelId,
		kind: KernelKind,
		environment: Type.Object(
			{
				id: EnvironmentId,
				name: Type.String({ maxLength: 4096 }),
				prefix: absolutePath,
				python: absolutePath,
				/** Which comm a spyder kernel speaks (2.x opens a port, 3.x has none) follows from it; absent for ipykernel environments. */
				spyderKernels: Type.Optional(Type.String({ maxLength: 64 })),
			},
			{ additionalProperties: false },
		),
		cwd: absolutePath,
		env: Type.Record(Type.String({ maxLength: 128 }), Type.String({ pattern: '^[^\\x00]*$' }), { maxProperties: 100 }),
		/** The kernel process, which leads its own process group. */
		pid: Type.Integer({ minimum: 2, maximum: 2 ** 31 - 1 }),
		/** Its start time in clock ticks after boot (/proc stat field 22): with the pid, it names one process even if the pid is reused. */
		processStart: Type.String({ pattern: '^\\d{1,20}$' }),
		startedAt: Type.String({ maxLength: 64 }),
	},
	{ additionalProperties: false },
);
export type KernelRecord = Static<typeof KernelRecord>;

/** Room for the largest `env` that kernel/start accepts: 100 values of 32768 characters, each up to 6 bytes in JSON. */
const maxRecordBytes = 32 * 1024 * 1024;
/** A connection file is a few hundred bytes. */
const maxConnectionFileBytes = 64 * 1024;

/**
 * Writes the record of a listed kernel when its process has started, and
 * again after each restart, which changes the pid. A kernel without one is
 * not adopted if this host dies, only stopped: so is a warm kernel nobody
 * has taken yet, which has none.
 */
export async function recordKernel(kernel: ManagedKernel, logger: Logger): Promise<void> {
	const pid = kernel.process?.pid;
	if (kernel.warm || pid === undefined) return;
	const { id, kind, environment, cwd, env } = kernel;
	try {
		// A kernel that has already exited needs no record.
		const running = await ownProcess(pid).catch(() => undefined);
		if (!running) return;
		await writeKernelRecord(kernel.directory, {
			version: 1,
			id,
			kind,
			environment: {
				id: environment.id,
				name: environment.name,
				prefix: environment.prefix,
				python: environment.python,
				...(environment.spyderKernels ? { spyderKernels: environment.spyderKernels } : {}),
			},
			cwd,
			env,
			pid,
			processStart: running.startTime,
			startedAt: kernel.startedAt.toISOString(),
		});
	} catch (error) {
		logger.warn(
			{ kernel: id, err: (error as Error).message },
			'could not write the kernel record: should this session host die, the kernel will be stopped, not adopted',
		);
	}
}

/** Replaces the record atomically: a host killed while writing leaves the old record or the new one, never half of one. */
async function writeKernelRecord(directory: string, record: KernelRecord): Promise<void> {
	const path = kernelRecordIn(directory);
	const temporary = `${path}.${randomBytes(6).toString('hex')}`;
	try {
		await writeFile(temporary, JSON.stringify(record), { mode: 0o600, flag: 'wx' });
		await rename(temporary, path);
	} catch (error) {
		await rm(temporary, { force: true });
		throw error;
	}
}

/** The record and connection file of the kernel directory `directory` named `id`; rejects with the reason when either is unusable. */
export async function readKernelFiles(directory: string, id: string): Promise<{ record: KernelRecord; connection: KernelConnection }> {
	const parsed = parseJson(await readOwnFile(kernelRecordIn(directory), maxRecordBytes), 'record.json');
	const problem = validate(KernelRecord, parsed);
	if (problem) throw new Error(`record.json: ${problem}`);
	const record = parsed as KernelRecord;
	if (record.id !== id) throw new Error(`record.json names kernel ${record.id}, not ${id}`);
	if (Number.isNaN(Date.parse(record.startedAt))) throw new Error('record.json: startedAt is not a time');
	const connection = parseJson(await readOwnFile(connectionFileIn(directory), maxConnectionFileBytes), 'connection.json') as Partial<KernelConnection> | null;
	const key = typeof connection?.key === 'string' && /^[0-9a-f]{64}$/.test(connection.key) ? connection.key : undefined;
	const expected = key === undefined ? undefined : kernelConnection(directory, record.kind, key);
	if (!expected) throw new Error('connection.json: key is not 64 hex digits');
	// What a host writes for a kernel there. The kernel rewrites the file when it starts, in an order of its own and with
	// its own kernel_name (ipykernel writes an empty one); the name the client gets follows from the kind.
	const wrong = Object.entries(expected).find(([field, value]) => field !== 'kernel_name' && connection?.[field as keyof KernelConnection] !== value);
	if (wrong) throw new Error(`connection.json: ${wrong[0]} is not what a kernel in this directory has`);
	return { record, connection: expected };
}

function parseJson(text: string, name: string): unknown {
	try {
		return JSON.parse(text);
	} catch (error) {
		throw new Error(`${name} is not JSON: ${(error as Error).message.slice(0, 200)}`);
	}
}

/** A regular file of this user (bounded-file.ts), not followed if it is a symlink; rejects with the file's name and the reason. */
async function readOwnFile(path: string, maxBytes: number): Promise<string> {
	const uid = process.getuid!();
	return readRegularText(path, { maxBytes, followSymlink: false, refuse: (stat) => (stat.uid === uid ? undefined : `owned by uid ${stat.uid}`) }).catch(
		(error: NodeJS.ErrnoException) => {
			throw new Error(`${basename(path)}: ${error instanceof RefusedFileError ? error.message : (error.code ?? error.message)}`);
		},
	);
}
