import { ErrorCodes } from '@spyder-remote/protocol';
import { group, type Context } from '../context.js';
import { assert, assertShape, codeName, expectError, initializeParams } from '../wire.js';
import { randomPublicKey } from './pre-login.js';

const closeWait = 5000;

/** Section 5.2: the login every later check builds on. */
export async function passwordLogin(context: Context): Promise<void> {
	const peer = await context.open();
	await peer.initialize();
	const result = await peer.login(context.user, context.password);
	assertShape('auth/password', 'result', result);
	assert(result.user === context.user, `logged in as ${result.user}, not ${context.user}`);
	const whoami = await peer.request('session/whoami');
	assertShape('session/whoami', 'result', whoami);
	assert(whoami.user === context.user, `session/whoami names ${whoami.user}, not ${context.user}`);
	peer.destroy();
}

/** Sections 3.3, 3.4 and 2.3: the session host's side of the lifecycle and of error handling. */
export const sessionChecks = group(
	[
		'auth.pipelined',
		'lifecycle.logged-in',
		'methods.after-login',
		'methods.notifications-ignored',
		'params.after-login',
		'params.no-params',
		'framing.after-login',
	],
	async (context) => {
		const { record } = context;
		await record.run('auth.pipelined', async () => {
			const peer = await context.open();
			await peer.initialize();
			const order: string[] = [];
			// Nothing awaited in between: the whoami travels right behind the login, as a pipelining client sends it.
			const login = peer.login(context.user, context.password).then((result) => (order.push('login'), result));
			const whoami = peer.request('session/whoami').then((result) => (order.push('whoami'), result));
			const [, identity] = await Promise.all([login, whoami]);
			assert(order.join() === 'login,whoami', `answers came in the order ${order.join(', ')}`);
			assert(identity.user === context.user, `the pipelined session/whoami was answered for ${identity.user}`);
			peer.destroy();
		});
		const peer = await context.loggedIn();
		await record.run('methods.after-login', async () => {
			for (const [method, params] of [
				['spyder-remote/noSuchMethod', undefined],
				['kernel/didChangeState', { id: '0123456789abcdef', state: 'idle' }],
				['environment/didChange', { added: [], changed: [], removed: [] }],
				['$/cancelRequest', { id: 1 }],
			] as const) {
				await expectError(peer.request(method, params), ErrorCodes.MethodNotFound, `${method} as a request after login`);
			}
		});
		await record.run('methods.notifications-ignored', async () => {
			await peer.notify('spyder-remote/noSuchNotification', { x: 1 });
			await peer.notify('$/cancelRequest', { id: 987_654_321 });
			await peer.notify('initialized', {});
			assertShape('session/ping', 'result', await peer.request('session/ping'));
		});
		await record.run('params.after-login', async () => {
			for (const [method, params] of [
				['kernel/attach', { id: '../../../etc/passwd' }],
				['kernel/start', {}],
				['kernel/start', { environment: '0123456789abcdef', kind: 'bash' }],
				['kernel/connect', { id: '0123456789abcdef', channel: 'stdout' }],
				['auth/registerKey', { publicKey: 'too-short' }],
				['auth/registerKey', { publicKey: randomPublicKey(), comment: 'line\nbreak' }],
			] as const) {
				await expectError(peer.request(method, params), ErrorCodes.InvalidParams, `${method} with ${JSON.stringify(params)}`);
			}
		});
		await record.run('params.no-params', async () => {
			const raw = await context.openRaw();
			await raw.initialize();
			await raw.login(context.user, context.password);
			const absent = await raw.request(1, 'kernel/list');
			assert(absent.result, `kernel/list without params got ${JSON.stringify(absent)}`);
			const explicitNull = await raw.request(2, 'session/whoami', null);
			assert(explicitNull.result?.user === context.user, `session/whoami with params null got ${JSON.stringify(explicitNull)}`);
			for (const [id, params] of [
				[3, {}],
				[4, []],
				[5, 0],
			] as const) {
				const answer = await raw.request(id, 'session/whoami', params);
				assert(answer.error?.code === ErrorCodes.InvalidParams, `session/whoami with params ${JSON.stringify(params)} got ${JSON.stringify(answer)}`);
			}
			raw.destroy();
		});
		await record.run('framing.after-login', async () => {
			const raw = await context.openRaw();
			await raw.initialize();
			await raw.login(context.user, context.password);
			raw.write('Content-Length: 6\r\n\r\n{"a":,');
			const answer = await raw.next(closeWait);
			assert(
				answer?.id === null && answer?.error?.code === ErrorCodes.ParseError,
				`expected ${codeName(ErrorCodes.ParseError)} with id null, got ${JSON.stringify(answer)}`,
			);
			assert(await raw.closesWithin(closeWait), `the connection was still open ${closeWait} ms after the error`);
		});
		await record.run('lifecycle.logged-in', async () => {
			await expectError(peer.request('initialize', initializeParams()), ErrorCodes.InvalidRequest, 'initialize after login');
			await expectError(
				peer.request('auth/password', { user: context.user, password: context.password }),
				ErrorCodes.AlreadyAuthenticated,
				'auth/password after login',
			);
			await expectError(
				peer.request('auth/challenge', { user: context.user, publicKey: randomPublicKey() }),
				ErrorCodes.AlreadyAuthenticated,
				'auth/challenge after login',
			);
			assert((await peer.request('shutdown')) === null, 'shutdown did not answer null');
			await expectError(peer.request('session/ping'), ErrorCodes.ShuttingDown, 'session/ping after shutdown');
			await peer.notify('exit');
			assert(await peer.closesWithin(closeWait), 'exit did not close the connection');
		});
	},
);
