import { randomBytes } from 'node:crypto';
import { ErrorCodes, PROTOCOL_VERSION } from '@spyder-remote/protocol';
import { group } from '../context.js';
import { NotApplicable } from '../recorder.js';
import { assert, assertShape, expectError, initializeParams } from '../wire.js';

/** A key nobody registered: challenges are answered alike whether or not a key exists. */
export const randomPublicKey = () => randomBytes(32).toString('base64');

/** Sections 3.2, 2.3 and 5: what the daemon answers before login. */
export const preLoginChecks = group(
	[
		'methods.before-initialize',
		'methods.before-login',
		'params.before-login',
		'params.unknown-members',
		'unauthenticated.requests',
		'auth.method-unavailable',
		'auth.challenge',
	],
	async (context) => {
		const { record } = context;
		await record.run('methods.before-initialize', async () => {
			const peer = await context.open();
			await expectError(peer.request('spyder-remote/noSuchMethod'), ErrorCodes.MethodNotFound, 'an unknown method before initialize');
			peer.destroy();
		});
		const peer = await context.open();
		await peer.initialize();
		await record.run('methods.before-login', async () => {
			for (const [method, params] of [
				['spyder-remote/noSuchMethod', undefined],
				['session/noSuchMethod', {}],
				['$/progress', { token: 1, value: { kind: 'end' } }],
				['initialized', {}],
				['kernel/didExit', { id: '0123456789abcdef', stderrTail: [], restarting: false }],
				// Last: a server that wrongly takes this for the notification closes the connection.
				['exit', undefined],
			] as const) {
				await expectError(peer.request(method, params), ErrorCodes.MethodNotFound, `${method} as a request`);
			}
		});
		await record.run('params.before-login', async () => {
			for (const params of [
				{ user: 5, password: 'x' },
				{ user: '-oProxyCommand', password: 'x' },
				{ user: context.user },
				{ user: context.user, password: '' },
				{ user: 'a'.repeat(257), password: 'x' },
			]) {
				await expectError(peer.request('auth/password', params), ErrorCodes.InvalidParams, `auth/password with ${JSON.stringify(params).slice(0, 60)}`);
			}
			const fresh = await context.open();
			await expectError(
				fresh.request('initialize', { protocolVersion: PROTOCOL_VERSION, capabilities: {} }),
				ErrorCodes.InvalidParams,
				'initialize without clientInfo',
			);
			fresh.destroy();
			const raw = await context.openRaw();
			await raw.initialize();
			const positional = await raw.request(1, 'auth/password', [context.user, 'x']);
			assert(positional.error?.code === ErrorCodes.InvalidParams, `auth/password with positional params got ${JSON.stringify(positional)}`);
			raw.destroy();
		});
		await record.run('params.unknown-members', async () => {
			const fresh = await context.open();
			const result = await fresh.request('initialize', {
				...initializeParams(),
				capabilities: { window: { workDoneProgress: true }, notYetSpecified: { x: 1 } },
				notYetSpecified: true,
			});
			assertShape('initialize', 'result', result);
			fresh.destroy();
		});
		await record.run('unauthenticated.requests', async () => {
			for (const [method, params] of [
				['session/whoami', undefined],
				['session/ping', undefined],
				['auth/registerKey', { publicKey: randomPublicKey() }],
				['environment/list', {}],
				['environment/remove', { id: '0123456789abcdef' }],
				['kernel/list', undefined],
				// Unauthenticated comes before the params are looked at (3.2), so even junk gets it.
				['kernel/start', { environment: 42 }],
			] as const) {
				const error = await expectError(peer.request(method, params), ErrorCodes.Unauthenticated, `${method} before login`);
				assert(error.data === undefined, `${method} before login returned data: ${JSON.stringify(error.data)}`);
			}
		});
		const offersKeys = context.initialize.capabilities.authMethods.includes('publicKey');
		await record.run('auth.method-unavailable', async () => {
			if (offersKeys) throw new NotApplicable('the server offers publicKey');
			await expectError(
				peer.request('auth/challenge', { user: context.user, publicKey: randomPublicKey() }),
				ErrorCodes.AuthMethodUnavailable,
				'auth/challenge',
			);
		});
		await record.run('auth.challenge', async () => {
			if (!offersKeys) throw new NotApplicable('the server does not offer publicKey');
			for (const user of [context.user, `ssdc_${context.tag}_nobody`]) {
				const result = await peer.request('auth/challenge', { user, publicKey: randomPublicKey() });
				assertShape('auth/challenge', 'result', result);
			}
		});
		peer.destroy();
	},
);
