/**
 * The suite must catch a server that breaks the spec, not only bless one
 * that keeps it. A TLS proxy with the reference server's own certificate
 * stands in for a faulty server: it drops kernel/didChangeState and
 * answers InternalError where the server said MethodNotFound.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connect as tlsConnect, createServer, type TLSSocket } from 'node:tls';
import test from 'ava';
import { execa } from 'execa';
import { ErrorCodes, TUNNEL_ALPN_PROTOCOL } from '@spyder-remote/protocol';
import type { CheckResult } from '@spyder-remote/conformance';
import { withTestUsers } from './helpers/os-users.js';
import { requireRoot, startTestServer } from './helpers/server.js';

const root = new URL('..', import.meta.url).pathname;
const newUser = withTestUsers(test);

/** Rewrites each server-to-client frame with `tamper`; undefined drops it. Tunnels pass untouched. */
function tamperingProxy(port: number, tls: { cert: Buffer; key: Buffer }, tamper: (message: any) => any) {
	return createServer({ ...tls, minVersion: 'TLSv1.3', ALPNProtocols: ['spyder-remote/1', TUNNEL_ALPN_PROTOCOL] }, (client: TLSSocket) => {
		const upstream = tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false, ALPNProtocols: [client.alpnProtocol as string] });
		const closeBoth = () => {
			client.destroy();
			upstream.destroy();
		};
		for (const socket of [client, upstream]) {
			socket.on('error', closeBoth);
			socket.on('close', closeBoth);
		}
		client.pipe(upstream);
		if (client.alpnProtocol === TUNNEL_ALPN_PROTOCOL) {
			upstream.pipe(client);
			return;
		}
		let buffer = Buffer.alloc(0);
		upstream.on('data', (chunk: Buffer) => {
			buffer = Buffer.concat([buffer, chunk]);
			for (let end = buffer.indexOf('\r\n\r\n'); end !== -1; end = buffer.indexOf('\r\n\r\n')) {
				const length = Number(/content-length:\s*(\d+)/i.exec(buffer.subarray(0, end).toString('latin1'))![1]);
				if (buffer.length < end + 4 + length) return;
				const message = tamper(JSON.parse(buffer.subarray(end + 4, end + 4 + length).toString('utf8')));
				buffer = buffer.subarray(end + 4 + length);
				if (message === undefined) continue;
				const body = Buffer.from(JSON.stringify(message));
				client.write(Buffer.concat([Buffer.from(`Content-Length: ${body.length}\r\n\r\n`), body]));
			}
		});
	});
}

test('a server that drops kernel/didChangeState and misreports unknown methods fails exactly those checks', async (t) => {
	requireRoot(t);
	const [server, user] = await Promise.all([startTestServer({ logLevel: 'error' }), newUser()]);
	const state = join(server.directory, 'state');
	const proxy = tamperingProxy(
		server.server.port,
		{ cert: await readFile(join(state, 'server.crt')), key: await readFile(join(state, 'server.key')) },
		(message) => {
			if (message.method === 'kernel/didChangeState') return undefined;
			if (message.error?.code === ErrorCodes.MethodNotFound) return { ...message, error: { ...message.error, code: ErrorCodes.InternalError } };
			return message;
		},
	);
	await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
	try {
		const port = (proxy.address() as { port: number }).port;
		const args = ['--host', '127.0.0.1', '--port', String(port), '--user', user.name, '--password-stdin', '--fingerprint', server.server.fingerprint, '--json'];
		const run = await execa(process.execPath, [join(root, 'spec/conformance/dist/bin/ssd-conformance.js'), ...args], {
			input: `${user.password}\n`,
			reject: false,
			timeout: 120_000,
		});
		t.is(run.exitCode, 1, run.stderr);
		const results: CheckResult[] = JSON.parse(run.stdout).results;
		const status = (id: string) => results.find((result) => result.id === id)!;
		t.deepEqual(
			results.filter((result) => result.status === 'fail').map((result) => result.id),
			['methods.before-initialize', 'methods.before-login', 'methods.after-login', 'kernels.state-idle', 'kernels.state-busy', 'kernels.shutdown'],
		);
		t.regex(status('methods.before-login').detail!, /expected MethodNotFound \(-32601\), got InternalError \(-32603\)/);
		t.regex(status('kernels.shutdown').detail!, /no kernel\/didChangeState dead/);
		t.deepEqual(
			results.filter((result) => result.status === 'n/a').map((result) => result.id),
			['auth.method-unavailable'],
			'everything else passes through the proxy',
		);
	} finally {
		proxy.close();
		await server.stop();
	}
});
