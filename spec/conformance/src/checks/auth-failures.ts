import { randomBytes } from 'node:crypto';
import { ErrorCodes } from '@spyder-remote/protocol';
import { group } from '../context.js';
import { NotApplicable } from '../recorder.js';
import { assert, expectError } from '../wire.js';
import { randomPublicKey } from './pre-login.js';

/** Servers may delay failed logins by seconds (5.6), so these run last, when no login follows them. */
const failedLoginTimeoutMs = 90_000;

/** Section 5.1: every failure looks the same, and nothing behind it is served. */
export const authFailureChecks = group(['auth.wrong-password', 'auth.unknown-user', 'auth.bad-signature'], async (context) => {
	const { record } = context;
	const offersPassword = context.initialize.capabilities.authMethods.includes('password');
	let failure = '';
	await record.run('auth.wrong-password', async () => {
		if (!offersPassword) throw new NotApplicable('the server does not offer password login');
		const peer = await context.open();
		await peer.initialize();
		const login = peer.request('auth/password', { user: context.user, password: `${context.password}-wrong` }, { timeoutMs: failedLoginTimeoutMs });
		const behind = peer.request('session/whoami', undefined, { timeoutMs: failedLoginTimeoutMs });
		failure = (await expectError(login, ErrorCodes.AuthenticationFailed, 'a wrong password')).message;
		await expectError(behind, ErrorCodes.Unauthenticated, 'session/whoami pipelined behind the failed login');
		peer.destroy();
	});
	await record.run('auth.unknown-user', async () => {
		if (!offersPassword) throw new NotApplicable('the server does not offer password login');
		const peer = await context.open();
		await peer.initialize();
		const error = await expectError(
			peer.request('auth/password', { user: `ssdc_${context.tag}_nobody`, password: context.password }, { timeoutMs: failedLoginTimeoutMs }),
			ErrorCodes.AuthenticationFailed,
			'an unknown user',
		);
		assert(
			failure === '' || error.message === failure,
			`the answers differ, which tells who exists: ${JSON.stringify(error.message)} and ${JSON.stringify(failure)}`,
		);
		peer.destroy();
	});
	await record.run('auth.bad-signature', async () => {
		if (!context.initialize.capabilities.authMethods.includes('publicKey')) throw new NotApplicable('the server does not offer publicKey');
		const peer = await context.open();
		await peer.initialize();
		const publicKey = randomPublicKey();
		await peer.request('auth/challenge', { user: context.user, publicKey });
		await expectError(
			peer.request('auth/publicKey', { user: context.user, publicKey, signature: randomBytes(64).toString('base64') }, { timeoutMs: failedLoginTimeoutMs }),
			ErrorCodes.AuthenticationFailed,
			'a signature that does not verify',
		);
		peer.destroy();
	});
});
