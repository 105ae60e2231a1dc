import { ErrorCodes, type SlurmPlacement } from '@spyder-remote/protocol';
import { ResponseError } from 'vscode-jsonrpc/node';
import type { SlurmSettings } from '../../../common/host-wire.js';

/**
 * sbatch's options for a placement. Each value travels as one argument
 * `--name=value`, so it can never be read as an option of its own, and the
 * protocol's patterns have already kept it a plain value. extraOptions are
 * only those whose name the administrator listed in `slurm.extraOptions`.
 */
export function sbatchArguments(placement: SlurmPlacement, settings: Pick<SlurmSettings, 'extraOptions' | 'jobName' | 'output'>): string[] {
	const args = [`--job-name=${settings.jobName}`, `--output=${settings.output}`, '--export=ALL', '--nodes=1', '--ntasks=1'];
	const option = (name: string, value: string | number | undefined) => {
		if (value !== undefined) args.push(`--${name}=${value}`);
	};
	option('partition', placement.partition);
	option('time', placement.timeLimit);
	option('cpus-per-task', placement.cpus);
	option('mem', placement.memory);
	option('gres', placement.gres);
	option('account', placement.account);
	option('qos', placement.qos);
	for (const extra of placement.extraOptions ?? []) {
		const name = extra.split('=')[0]!;
		if (!settings.extraOptions.includes(name)) {
			const allowed = settings.extraOptions.length > 0 ? `; this server allows ${settings.extraOptions.join(', ')}` : '; this server allows none';
			throw new ResponseError(ErrorCodes.InvalidParams, `placement.extraOptions: ${name} is not allowed${allowed}`);
		}
		args.push(extra);
	}
	return args;
}

/**
 * The batch script: fixed but for the server's own paths, quoted. It holds
 * nothing from the request; the agent's settings come in the environment.
 */
export function batchScript(node: string, agent: string): string {
	return `#!/bin/sh\nexec ${shellQuote(node)} ${shellQuote(agent)}\n`;
}

function shellQuote(text: string): string {
	return `'${text.replaceAll("'", "'\\''")}'`;
}
