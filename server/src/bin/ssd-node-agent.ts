/**
 * The node agent: started by the batch script of a Slurm kernel job, on the
 * compute node, as the user (spec 6.15). Its settings come in one
 * environment variable, which it removes at once so that the kernel never
 * inherits the token.
 */
import { AGENT_SETTINGS_VARIABLE, type AgentSettings } from '../common/node-link.js';
import { NodeAgent } from '../node-agent/agent.js';

const raw = process.env[AGENT_SETTINGS_VARIABLE];
delete process.env[AGENT_SETTINGS_VARIABLE];
const jobId = process.env.SLURM_JOB_ID;
if (!raw || !jobId) {
	process.stderr.write(`ssd-node-agent: no ${AGENT_SETTINGS_VARIABLE} or SLURM_JOB_ID (started by a Slurm kernel job of ssd-server, not by hand)\n`);
	process.exit(2);
}
const settings = JSON.parse(raw) as AgentSettings;
const daemonHost = settings.daemonHost || process.env.SLURM_SUBMIT_HOST;
if (!daemonHost) {
	process.stderr.write('ssd-node-agent: no daemon address configured and no SLURM_SUBMIT_HOST\n');
	process.exit(2);
}
try {
	process.exitCode = await new NodeAgent(settings, jobId, daemonHost).run();
} catch (error) {
	process.stderr.write(`ssd-node-agent: ${(error as Error).message}\n`);
	process.exitCode = 1;
}
