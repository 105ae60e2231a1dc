import { ErrorCodes, type Environment } from '@spyder-remote/protocol';
import { group } from '../context.js';
import { NotApplicable } from '../recorder.js';
import { assertShape, expectError } from '../wire.js';

/** Placement values that would smuggle an sbatch option (6.15.1): each must be refused before anything is submitted. */
const injections = [
	{ kind: 'slurm', partition: '--wrap=id' },
	{ kind: 'slurm', partition: 'debug --wrap=id' },
	{ kind: 'slurm', timeLimit: '10 --uid=0' },
	{ kind: 'slurm', account: 'a=b' },
	{ kind: 'slurm', memory: '-1' },
	{ kind: 'slurm', gres: 'gpu:1\n#SBATCH --uid=0' },
	{ kind: 'slurm', extraOptions: ['--wrap=id'] },
	{ kind: 'slurm', extraOptions: ['-w node1'] },
	{ kind: 'elsewhere' },
];

export const placementChecks = group(['placement.capabilities', 'placement.injection'], async (context) => {
	const { record } = context;
	if (!context.initialize.capabilities.kernels) {
		record.notApplicable(placementChecks.ids, 'the server does not announce capabilities.kernels');
		return;
	}
	const peer = await context.loggedIn();
	await record.run('placement.capabilities', async () => {
		assertShape('server/capabilities', 'result', await peer.request('server/capabilities'));
	});
	await record.run('placement.injection', async () => {
		const { environments } = (await peer.request('environment/list', {}, { timeoutMs: 60_000 })) as { environments: Environment[] };
		const environment = environments.find((candidate) => candidate.broken === undefined && candidate.ipykernel);
		if (!environment) throw new NotApplicable('no environment of the user has ipykernel');
		for (const placement of injections) {
			await expectError(
				peer.request('kernel/start', { environment: environment.id, kind: 'ipykernel', placement }),
				ErrorCodes.InvalidParams,
				`placement ${JSON.stringify(placement)}`,
			);
		}
	});
});
