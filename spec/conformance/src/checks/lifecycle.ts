import { ErrorCodes, parseVersion } from '@spyder-remote/protocol';
import { group } from '../context.js';
import { NotApplicable } from '../recorder.js';
import { assert, expectError, initializeParams } from '../wire.js';

const closeWait = 5000;

/** Sections 3 and 6.1–6.4: what each state answers, and how a connection ends. */
export const lifecycleChecks = group(
	['lifecycle.before-initialize', 'lifecycle.shutdown-first', 'lifecycle.second-initialize', 'lifecycle.shutdown', 'lifecycle.exit'],
	async (context) => {
		const { record } = context;
		await record.run('lifecycle.before-initialize', async () => {
			const peer = await context.open();
			for (const [method, params] of [
				['auth/password', { user: context.user, password: 'not-sent-before-initialize' }],
				['session/whoami', undefined],
				['kernel/list', undefined],
			] as const) {
				await expectError(peer.request(method, params), ErrorCodes.ServerNotInitialized, `${method} before initialize`);
			}
			peer.destroy();
		});
		await record.run('lifecycle.shutdown-first', async () => {
			const peer = await context.open();
			assert((await peer.request('shutdown')) === null, 'shutdown did not answer null');
			await expectError(peer.request('initialize', initializeParams()), ErrorCodes.ShuttingDown, 'initialize after shutdown');
			await peer.notify('exit');
			assert(await peer.closesWithin(closeWait), 'exit did not close the connection');
		});
		const peer = await context.open();
		await peer.initialize();
		await record.run('lifecycle.second-initialize', async () => {
			await expectError(peer.request('initialize', initializeParams()), ErrorCodes.InvalidRequest, 'a second initialize');
		});
		await record.run('lifecycle.shutdown', async () => {
			assert((await peer.request('shutdown')) === null, 'shutdown did not answer null');
			for (const [method, params] of [
				['shutdown', undefined],
				['initialize', initializeParams()],
				['auth/password', { user: context.user, password: 'not-sent-after-shutdown' }],
				['session/whoami', undefined],
				['no/such-method', undefined],
			] as const) {
				await expectError(peer.request(method, params), ErrorCodes.ShuttingDown, `${method} after shutdown`);
			}
			await peer.notify('exit');
			assert(await peer.closesWithin(closeWait), 'exit did not close the connection');
		});
		await record.run('lifecycle.exit', async () => {
			const other = await context.open();
			await other.initialize();
			await other.notify('exit');
			assert(await other.closesWithin(closeWait), 'exit did not close the connection');
		});
	},
);

/** Section 4: the compatibility rule, judged against the version the server itself announced. */
export const versionChecks = group(['version.major', 'version.minor', 'version.patch', 'version.malformed', 'capabilities.auth'], async (context) => {
	const { record } = context;
	const announced = context.initialize.protocolVersion;
	const parsed = parseVersion(announced);
	if (!parsed) throw new Error(`the server announced protocolVersion ${JSON.stringify(announced)}, which does not parse`);
	const [major, minor, patch] = parsed;
	await record.run('version.major', async () => {
		const peer = await context.open();
		const offered = `${major + 1}.0.0`;
		const error = await expectError(peer.request('initialize', initializeParams(offered)), ErrorCodes.ProtocolVersionMismatch, `initialize with ${offered}`);
		assert(error.message.includes(offered) && error.message.includes(announced), `the message does not name both versions: ${error.message}`);
		await peer.request('initialize', initializeParams(announced));
		peer.destroy();
	});
	await record.run('version.minor', async () => {
		if (major !== 0) throw new NotApplicable(`MAJOR is ${major}: MINOR versions are compatible`);
		const peer = await context.open();
		await expectError(
			peer.request('initialize', initializeParams(`0.${minor + 1}.${patch}`)),
			ErrorCodes.ProtocolVersionMismatch,
			`initialize with 0.${minor + 1}.${patch}`,
		);
		peer.destroy();
	});
	await record.run('version.patch', async () => {
		const peer = await context.open();
		const result = await peer.request('initialize', initializeParams(`${major}.${minor}.${patch + 1}`));
		assert(result?.protocolVersion === announced, `a compatible initialize answered ${JSON.stringify(result)}`);
		peer.destroy();
	});
	await record.run('version.malformed', async () => {
		const peer = await context.open();
		// The connection stays uninitialized after each mismatch, so one connection tries them all.
		for (const offered of [`${major}.${minor}`, `${announced}-rc1`, `v${announced}`, '']) {
			await expectError(
				peer.request('initialize', initializeParams(offered)),
				ErrorCodes.ProtocolVersionMismatch,
				`initialize with ${JSON.stringify(offered)}`,
			);
		}
		peer.destroy();
	});
	await record.run('capabilities.auth', async () => {
		const { authMethods, keyRegistration } = context.initialize.capabilities;
		assert(authMethods.length > 0, 'authMethods is empty: nobody can log in');
		assert(new Set(authMethods).size === authMethods.length, `authMethods repeats a method: ${authMethods.join(', ')}`);
		assert(keyRegistration === authMethods.includes('publicKey'), `keyRegistration is ${keyRegistration} with authMethods ${authMethods.join(', ')}`);
	});
});
