import type { Kernel } from '@spyder-remote/protocol';
import { KernelForwarder, type ForwarderTransport } from '../../forwarder.js';
import type { RemoteSession } from '../../session.js';
import { UsageError, type Command, type CommandContext } from '../command.js';
import { parseSlurmOption } from '../slurm-placement.js';
import { resolveEnvironment } from './environments.js';

/** Forwards until SIGINT or SIGTERM, or until the server connection is lost. */
async function forwardInForeground(session: RemoteSession, kernel: Kernel, context: CommandContext, stopOnExit: boolean): Promise<number> {
	const transport = chosenTransport(context.values.transport as string | undefined, kernel);
	const forwarder = await KernelForwarder.open(session, kernel, { transport, onError: (error) => process.stderr.write(`ssd: tunnel: ${error.message}\n`) });
	context.print(
		`Kernel ${kernel.id} (${kernel.kind}, ${kernel.environment.name}) is forwarded.\nConnection file: ${forwarder.connectionFile}\n` +
			`Try: jupyter console --existing ${forwarder.connectionFile}\nCtrl-C ${stopOnExit ? 'stops the kernel' : 'detaches; the kernel keeps running'}.`,
		{ id: kernel.id, connectionFile: forwarder.connectionFile, ports: forwarder.ports, kind: kernel.kind, environment: kernel.environment },
	);
	const outcome = await new Promise<'signal' | 'lost'>((resolve) => {
		process.once('SIGINT', () => resolve('signal'));
		process.once('SIGTERM', () => resolve('signal'));
		session.connection.onClose(() => resolve('lost'));
	});
	await forwarder.close();
	if (outcome === 'lost') {
		process.stderr.write('ssd: the connection to the server was lost; the kernel keeps running: ssd kernel attach to resume\n');
		return 1;
	}
	if (stopOnExit) await session.shutdownKernel(kernel.id);
	return 0;
}

/**
 * Unix sockets where they can serve: no other local user can open them. TCP
 * where a kernel has a comm port (Spyder finds it by number) or on Windows.
 */
function chosenTransport(option: string | undefined, kernel: Kernel): ForwarderTransport {
	if (option === undefined) return kernel.commPort === undefined && process.platform !== 'win32' ? 'ipc' : 'tcp';
	if (option !== 'ipc' && option !== 'tcp') throw new UsageError('--transport is ipc or tcp');
	return option;
}

export const kernelStart: Command = {
	name: 'kernel start',
	summary: 'start a kernel in an environment and forward it here until Ctrl-C',
	synopsis:
		'HOST[:PORT] --env NAME|PREFIX [--kind spyder|ipykernel] [--slurm partition=P,time=T,cpus=N,mem=M,gres=G,account=A,qos=Q,option=--X] [--transport ipc|tcp] [--stop-on-exit]',
	remote: true,
	options: {
		env: { type: 'string' },
		kind: { type: 'string', default: 'spyder' },
		slurm: { type: 'string' },
		transport: { type: 'string' },
		'stop-on-exit': { type: 'boolean', default: false },
	},
	async run(context) {
		const { values, session } = context;
		if (values.kind !== 'spyder' && values.kind !== 'ipykernel') throw new UsageError('--kind is spyder or ipykernel');
		const placement = values.slurm === undefined ? undefined : parseSlurmOption(values.slurm as string);
		const remote = await session();
		const environment = await resolveEnvironment(remote, values.env as string | undefined);
		const start = remote.startKernel({ environment: environment.id, kind: values.kind, ...(placement ? { placement } : {}) });
		const kernel = placement ? await waitForJob(remote, start) : await start;
		return forwardInForeground(remote, kernel, context, values['stop-on-exit'] === true);
	},
};

/** A Slurm kernel's start: its job is reported on stderr while it waits, and Ctrl-C cancels it. */
async function waitForJob(session: RemoteSession, start: Promise<Kernel>): Promise<Kernel> {
	let pendingId: string | undefined;
	const unsubscribe = session.onKernelEvent((event) => {
		if (event.type !== 'job') return;
		pendingId = event.params.id;
		const { jobId, phase, reason, node } = event.params.job;
		process.stderr.write(`ssd: job ${jobId} ${phase}${reason && reason !== 'None' ? ` (${reason})` : ''}${node ? ` on ${node}` : ''}\n`);
	});
	const cancel = () => {
		if (pendingId) void session.shutdownKernel(pendingId).catch(() => undefined);
	};
	process.once('SIGINT', cancel);
	try {
		return await start;
	} finally {
		process.off('SIGINT', cancel);
		unsubscribe();
	}
}

export const kernelAttach: Command = {
	name: 'kernel attach',
	summary: 'forward a running kernel here again until Ctrl-C',
	synopsis: 'HOST[:PORT] KERNEL_ID [--transport ipc|tcp] [--stop-on-exit]',
	remote: true,
	options: { transport: { type: 'string' }, 'stop-on-exit': { type: 'boolean', default: false } },
	async run(context) {
		const remote = await context.session();
		const kernel = await remote.attachKernel(kernelId(context.args));
		return forwardInForeground(remote, kernel, context, context.values['stop-on-exit'] === true);
	},
};

export const kernelList: Command = {
	name: 'kernel list',
	summary: 'list your running kernels',
	synopsis: 'HOST[:PORT]',
	remote: true,
	async run({ session, print }) {
		const kernels = await (await session()).listKernels();
		const lines = kernels.map(
			(kernel) =>
				`${kernel.id}  ${kernel.state.padEnd(10)}  ${kernel.kind.padEnd(9)}  ${kernel.environment.name}  since ${kernel.startedAt}${kernel.job ? `  slurm job ${kernel.job.jobId} ${kernel.job.phase}${kernel.job.node ? ` on ${kernel.job.node}` : ''}` : ''}`,
		);
		print(lines.length ? lines.join('\n') : 'No kernels are running.', kernels);
	},
};

function kernelId(args: readonly string[]): string {
	if (args.length !== 1 || !/^[0-9a-f]{16}$/.test(args[0]!)) throw new UsageError('give one KERNEL_ID (16 hex digits; see ssd kernel list)');
	return args[0]!;
}

function kernelAction(name: 'interrupt' | 'restart' | 'stop', summary: string, act: (session: RemoteSession, id: string) => Promise<unknown>): Command {
	return {
		name: `kernel ${name}`,
		summary,
		synopsis: 'HOST[:PORT] KERNEL_ID',
		remote: true,
		async run({ args, session, print }) {
			const id = kernelId(args);
			await act(await session(), id);
			print(`Kernel ${id}: ${name} done`, { id, action: name });
		},
	};
}

export const kernelInterrupt = kernelAction('interrupt', 'interrupt what the kernel is running', (session, id) => session.interruptKernel(id));
export const kernelRestart = kernelAction('restart', 'restart the kernel (same id, fresh interpreter)', (session, id) => session.restartKernel(id));
export const kernelStop = kernelAction('stop', 'shut the kernel down', (session, id) => session.shutdownKernel(id));
