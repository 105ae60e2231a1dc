import { ALPN_PROTOCOL } from '@spyder-remote/protocol';
import { NotApplicable, type Recorder } from '../recorder.js';
import { assert, CheckFailure, openTls, type Target } from '../wire.js';

/** A handshake the server must refuse: resolves with the reason it failed, fails the check if it succeeds. */
async function refused(target: Target, alpn: readonly string[], extra: Parameters<typeof openTls>[4]): Promise<string> {
	const socket = await openTls(target.host, target.port, alpn, 10_000, extra).catch((error: Error) => error);
	if (socket instanceof Error) return socket.message;
	const selected = socket.alpnProtocol;
	const version = socket.getProtocol();
	socket.destroy();
	throw new CheckFailure(`the handshake succeeded (${version}, ALPN ${selected || 'none'})`);
}

/** Section 2.1 and the fingerprint of 5.7; `expected` is the caller's --fingerprint, if given. */
export async function transportChecks(target: Target, record: Recorder, expected: string | undefined): Promise<void> {
	await record.run('transport.tls13', async () => {
		const socket = await openTls(target.host, target.port, [ALPN_PROTOCOL], 10_000);
		const version = socket.getProtocol();
		const selected = socket.alpnProtocol;
		socket.destroy();
		assert(version === 'TLSv1.3', `negotiated ${version}`);
		assert(selected === ALPN_PROTOCOL, `the server selected ALPN ${selected || 'none'}`);
	});
	await record.run('transport.no-tls12', async () => {
		await refused(target, [ALPN_PROTOCOL], { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2' });
	});
	await record.run('transport.alpn-required', async () => {
		const reason = await refused(target, ['http/1.1'], {});
		assert(/no.?application.?protocol/i.test(reason), `the handshake failed, but not with no_application_protocol: ${reason}`);
	});
	await record.run('transport.fingerprint', async () => {
		assert(/^SHA256:[A-Za-z0-9+/]{43}$/.test(target.fingerprint), `malformed fingerprint ${target.fingerprint}`);
		if (expected === undefined) throw new NotApplicable('no --fingerprint given; a CA vouched for the certificate');
		assert(expected === target.fingerprint, `presented ${target.fingerprint}, expected ${expected}`);
	});
}
