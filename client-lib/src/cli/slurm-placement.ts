import { SlurmPlacement, validate } from '@spyder-remote/protocol';
import { UsageError } from './command.js';

/** `--slurm` keys, as sbatch users know them, and the placement field each sets. */
const keys = {
	partition: 'partition',
	time: 'timeLimit',
	cpus: 'cpus',
	mem: 'memory',
	gres: 'gres',
	account: 'account',
	qos: 'qos',
	option: 'extraOptions',
} as const;

/**
 * `--slurm partition=debug,time=1:00:00,cpus=4` as a Slurm placement. Pairs
 * are comma-separated, so a value cannot hold a comma; `option` may repeat
 * and gives one extra sbatch option (`option=--constraint=avx2`).
 */
export function parseSlurmOption(text: string): SlurmPlacement {
	const placement: Record<string, unknown> = { kind: 'slurm' };
	for (const pair of text === '' ? [] : text.split(',')) {
		const equals = pair.indexOf('=');
		const key = equals === -1 ? pair : pair.slice(0, equals);
		const field = keys[key as keyof typeof keys];
		if (!field || equals === -1)
			throw new UsageError(`--slurm takes KEY=VALUE pairs separated by commas, with KEY one of ${Object.keys(keys).join(', ')}; got ${JSON.stringify(pair)}`);
		const value = pair.slice(equals + 1);
		if (field === 'extraOptions') placement.extraOptions = [...((placement.extraOptions as string[] | undefined) ?? []), value];
		else placement[field] = field === 'cpus' && /^\d+$/.test(value) ? Number(value) : value;
	}
	const problem = validate(SlurmPlacement, placement);
	if (problem) throw new UsageError(`--slurm: ${problem}`);
	return placement as SlurmPlacement;
}
