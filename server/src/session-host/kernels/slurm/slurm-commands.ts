import { execa } from 'execa';

/**
 * Slurm's own commands, run as the user (this host is the user), never
 * through a shell: what Slurm lets this user see and do is all we see and do.
 */
const commandTimeoutMs = 15_000;

export class SlurmCommandError extends Error {
	override name = 'SlurmCommandError';
}

async function run(file: string, args: readonly string[], input?: string, env?: Record<string, string>): Promise<string> {
	const result = await execa(file, args, {
		reject: false,
		timeout: commandTimeoutMs,
		env,
		...(input === undefined ? { stdin: 'ignore' as const } : { input }),
	});
	if (result.failed || result.exitCode !== 0) {
		const said = `${result.stderr || result.stdout}`.trim().split('\n').slice(-3).join(' | ');
		throw new SlurmCommandError(`${file} failed: ${said || result.shortMessage}`);
	}
	return result.stdout;
}

/** Submits a batch job whose script is `script` (given on stdin, so no file holds it), with `env` laid over ours; resolves to the job id. */
export async function submitBatchJob(args: readonly string[], script: string, env: Record<string, string>): Promise<string> {
	const out = await run('sbatch', ['--parsable', ...args], script, env);
	const jobId = /^(\d{1,12})(;\S+)?$/m.exec(out.trim())?.[1];
	if (!jobId) throw new SlurmCommandError(`sbatch answered no job id: ${out.slice(0, 200)}`);
	return jobId;
}

export async function cancelJob(jobId: string): Promise<void> {
	await run('scancel', [jobId]);
}

/** `scontrol -o show …` prints one record per line as `Key=value` pairs; values hold no spaces except the last keys', which we do not read. */
function fields(line: string): Map<string, string> {
	const map = new Map<string, string>();
	for (const [, key, value] of line.matchAll(/(?:^|\s)([A-Za-z:/]+)=(\S*)/g)) if (!map.has(key!)) map.set(key!, value!);
	return map;
}

export interface JobStatus {
	/** PENDING, RUNNING, COMPLETING, TIMEOUT, CANCELLED, FAILED, PREEMPTED, NODE_FAIL… */
	readonly state: string;
	/** The reason squeue shows: Priority, Resources, TimeLimit, None… */
	readonly reason: string;
	/** The node the batch script runs on, once allocated. */
	readonly node: string | undefined;
}

/** The job as Slurm shows it to the user; undefined once Slurm has forgotten it. */
export async function jobStatus(jobId: string): Promise<JobStatus | undefined> {
	const out = await run('scontrol', ['-o', 'show', 'job', jobId]).catch((error: Error) => {
		if (/Invalid job id/i.test(error.message)) return '';
		throw error;
	});
	const line = out.split('\n').find((candidate) => candidate.startsWith(`JobId=${jobId} `));
	if (!line) return undefined;
	const record = fields(line);
	const node = record.get('BatchHost');
	return { state: record.get('JobState') ?? 'UNKNOWN', reason: record.get('Reason') ?? 'None', node: node && node !== '(null)' ? node : undefined };
}

/** The address Slurm reaches a node at (its NodeAddr). */
export async function nodeAddress(node: string): Promise<string | undefined> {
	const out = await run('scontrol', ['-o', 'show', 'node', node]);
	return fields(out.split('\n')[0] ?? '').get('NodeAddr');
}

/** Decodes a MUNGE credential: the uid munged attests and the payload, or undefined for one that is invalid, expired or replayed. */
export async function decodeCredential(credential: string): Promise<{ uid: number; payload: string } | undefined> {
	const out = await run('unmunge', ['--numeric'], credential).catch(() => undefined);
	const uid = out && /^UID:\s+(\d+)/m.exec(out)?.[1];
	if (!out || !uid) return undefined;
	// Metadata lines, one blank line, then the payload.
	const blank = out.indexOf('\n\n');
	return { uid: Number(uid), payload: blank === -1 ? '' : out.slice(blank + 2) };
}

export interface PartitionRow {
	readonly name: string;
	readonly default: boolean;
	readonly state: string;
	readonly maxTime: string;
	readonly defaultTime: string;
	readonly nodes: number;
	readonly cpus: number;
	readonly memoryMB: number | undefined;
}

/** The partitions this user may see, one row each (sinfo's summary). */
export async function listPartitions(): Promise<PartitionRow[]> {
	const out = await run('sinfo', ['--noheader', '--summarize', '--format=%P|%a|%l|%L|%D|%C|%m']);
	return out
		.split('\n')
		.filter((line) => line.includes('|'))
		.map((line) => {
			const [partition = '', state = '', maxTime = '', defaultTime = '', nodes = '0', cpus = '', memory = ''] = line.trim().split('|');
			const memoryMB = Number.parseInt(memory, 10);
			return {
				name: partition.replace(/\*$/, ''),
				default: partition.endsWith('*'),
				state: state.toUpperCase(),
				maxTime: maxTime === 'infinite' ? 'UNLIMITED' : maxTime,
				defaultTime,
				nodes: Number.parseInt(nodes, 10) || 0,
				// %C is allocated/idle/other/total
				cpus: Number.parseInt(cpus.split('/')[3] ?? '', 10) || 0,
				memoryMB: Number.isFinite(memoryMB) ? memoryMB : undefined,
			};
		});
}
