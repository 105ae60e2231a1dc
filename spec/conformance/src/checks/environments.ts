import { ErrorCodes, type Environment } from '@spyder-remote/protocol';
import { CancellationTokenSource } from 'vscode-jsonrpc/node';
import { group, type Context } from '../context.js';
import { NotApplicable } from '../recorder.js';
import { assert, assertShape, expectError, type RpcPeer } from '../wire.js';

const kindOrder = ['conda', 'venv', 'pyenv', 'system'];
/** A venv with pip takes seconds; a busy server may take minutes. */
const toolTimeoutMs = 300_000;
const notificationWait = 5000;
/** The spec's "numbers compared as numbers", with one fixed collation for everyone. */
const byName = new Intl.Collator('en', { numeric: true });

async function list(peer: RpcPeer, params: object = {}): Promise<Environment[]> {
	const result = await peer.request('environment/list', params, { timeoutMs: 60_000 });
	assertShape('environment/list', 'result', result);
	return result.environments;
}

/** Begin first, end last, reports between: the LSP work-done sequence of 2.4. */
function assertProgress(values: readonly any[], what: string): void {
	const kinds = values.map((value) => value?.kind);
	assert(kinds[0] === 'begin' && typeof values[0].title === 'string', `${what}: progress did not start with begin and a title (${kinds.join(', ') || 'none'})`);
	assert(kinds.at(-1) === 'end', `${what}: progress did not end with end before the result (${kinds.join(', ')})`);
	assert(
		kinds.slice(1, -1).every((kind) => kind === 'report'),
		`${what}: unexpected progress kinds ${kinds.join(', ')}`,
	);
}

const announced = (peer: RpcPeer, key: 'added' | 'removed', id: string, what: string) =>
	peer.waitFor(
		({ method, params }) =>
			method === 'environment/didChange' &&
			(key === 'added' ? params?.added?.some((environment: Environment) => environment.id === id) : params?.removed?.includes(id)),
		notificationWait,
		what,
	);

/** Section 6.11; creating and removing need the `create` and `administer` capabilities. */
export const environmentChecks = group(
	[
		'environments.list',
		'environments.range',
		'environments.packages',
		'environments.not-found',
		'environments.create-progress',
		'environments.did-change',
		'environments.remove',
		'environments.cancel',
	],
	async (context) => {
		const { record } = context;
		const capability = context.initialize.capabilities.environments;
		if (!capability) {
			record.notApplicable(environmentChecks.ids, 'the server does not announce capabilities.environments');
			return;
		}
		const peer = await context.loggedIn();
		let environments: Environment[] = [];
		await record.run('environments.list', async () => {
			for (const params of [{}, { refresh: true }]) {
				environments = await list(peer, params);
				const ids = environments.map((environment) => environment.id);
				assert(new Set(ids).size === ids.length, 'two environments share an id');
				const kinds = environments.map((environment) => kindOrder.indexOf(environment.kind));
				assert(
					kinds.every((kind, index) => index === 0 || kinds[index - 1]! <= kind),
					`not sorted by kind: ${environments.map((environment) => environment.kind).join(', ')}`,
				);
			}
		});
		await record.run('environments.range', async () => {
			const ranged = await list(peer, { spyderKernelsRange: '>=2.4.0,<99.0.0' });
			const without = ranged.filter((environment) => environment.compatible === undefined);
			assert(without.length === 0, `no compatible on ${without.map((environment) => environment.name).join(', ')}`);
			const cleared = await list(peer);
			assert(
				cleared.every((environment) => environment.compatible === undefined),
				'a list without a range still carries compatible',
			);
		});
		await record.run('environments.packages', async () => {
			const usable = environments.find((environment) => environment.broken === undefined);
			if (!usable) throw new NotApplicable('every environment is broken');
			const result = await peer.request('environment/packages', { id: usable.id }, { timeoutMs: 60_000 });
			assertShape('environment/packages', 'result', result);
			const names: string[] = result.packages.map((installed: { name: string }) => installed.name);
			assert(
				names.every((name, index) => index === 0 || byName.compare(names[index - 1]!, name) <= 0),
				`not sorted by name: ${names.slice(0, 20).join(', ')}`,
			);
		});
		await record.run('environments.not-found', async () => {
			const id = unusedId(environments.map((environment) => environment.id));
			await expectError(peer.request('environment/packages', { id }), ErrorCodes.EnvironmentNotFound, 'environment/packages of an unknown id');
		});
		const lifecycle = ['environments.create-progress', 'environments.did-change', 'environments.remove', 'environments.cancel'];
		if (!capability.create.includes('venv')) {
			record.notApplicable(lifecycle, 'capabilities.environments.create does not include venv');
			return;
		}
		if (!capability.administer) {
			// Without administer nothing created could be removed again, and a test must not leave litter.
			record.notApplicable(lifecycle, 'capabilities.environments.administer is false, so an environment made here could not be removed');
			return;
		}
		await createAndRemove(context, peer);
		await record.run('environments.cancel', () => cancelledCreate(context, peer));
	},
);

/** Any 16 hex digits that are not among `ids`. */
export function unusedId(ids: readonly string[]): string {
	for (let n = 0; ; n++) {
		const id = n.toString(16).padStart(16, 'f');
		if (!ids.includes(id)) return id;
	}
}

async function createAndRemove(context: Context, peer: RpcPeer): Promise<void> {
	const { record } = context;
	// A second connection of the same user: notifications go to every one of them (7).
	const observer = await context.loggedIn();
	const name = `ssdc-${context.tag}`;
	const progress: unknown[] = [];
	const token = `ssdc-${context.tag}-create`;
	peer.onProgress(token, (value) => progress.push(value));
	let created: Environment | undefined;
	let removed = false;
	await record.run('environments.create-progress', async () => {
		const result = await peer.request('environment/create', { name, kind: 'venv', workDoneToken: token }, { timeoutMs: toolTimeoutMs });
		// Progress is handled as it arrives, so the list is complete when the response is.
		const seen = [...progress];
		assertShape('environment/create', 'result', result);
		created = result.environment as Environment;
		const id = created.id;
		context.onCleanup(async () => removed || peer.request('environment/remove', { id }, { timeoutMs: toolTimeoutMs }));
		assert(created.name === name && created.kind === 'venv', `created ${created.kind} ${created.name}, asked for venv ${name}`);
		assertProgress(seen, 'environment/create');
	});
	if (!created) {
		record.blocked(['environments.did-change', 'environments.remove'], 'environment/create failed');
		return;
	}
	const id = created.id;
	await record.run('environments.did-change', async () => {
		await announced(peer, 'added', id, 'environment/didChange adding it on the creating connection');
		await announced(observer, 'added', id, 'environment/didChange adding it on another connection of the user');
	});
	await record.run('environments.remove', async () => {
		const removal: unknown[] = [];
		const removeToken = `ssdc-${context.tag}-remove`;
		peer.onProgress(removeToken, (value) => removal.push(value));
		const result = await peer.request('environment/remove', { id, workDoneToken: removeToken }, { timeoutMs: toolTimeoutMs });
		removed = true;
		assert(result === null, `environment/remove answered ${JSON.stringify(result)}`);
		assertProgress([...removal], 'environment/remove');
		assert(!(await list(peer, { refresh: true })).some((environment) => environment.id === id), 'still listed after environment/remove');
		await announced(observer, 'removed', id, 'environment/didChange removing it on another connection of the user');
	});
}

/** Cancel as soon as the tool has started (progress begin), then insist that no trace is listed. */
async function cancelledCreate(context: Context, peer: RpcPeer): Promise<void> {
	const name = `ssdc-${context.tag}-cancelled`;
	const token = `ssdc-${context.tag}-cancel`;
	const cancel = new CancellationTokenSource();
	peer.onProgress(token, (value) => {
		if (value?.kind === 'begin') cancel.cancel();
	});
	const answer = peer.request('environment/create', { name, kind: 'venv', workDoneToken: token }, { cancel, timeoutMs: toolTimeoutMs }).then((result) => {
		// A create that was not stopped must still not outlive the run.
		const id = result?.environment?.id;
		if (id) context.onCleanup(() => peer.request('environment/remove', { id }, { timeoutMs: toolTimeoutMs }));
		return result;
	});
	await expectError(answer, ErrorCodes.RequestCancelled, 'environment/create, cancelled when its progress began');
	const left = (await list(peer, { refresh: true })).filter((environment) => environment.name === name || environment.prefix.endsWith(`/${name}`));
	assert(left.length === 0, `the cancelled create left ${left.map((environment) => environment.prefix).join(', ')}`);
}
