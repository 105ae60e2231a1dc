import { ErrorCodes, PROTOCOL_VERSION } from '@spyder-remote/protocol';
import { group, type Context } from '../context.js';
import { assert, codeName, sleep, type RawPeer } from '../wire.js';

const closeWait = 5000;
/** Above the largest maxHeaderBytes a server may be configured with (1 MiB), so any conforming server gives up. */
const floodBytes = 1024 * 1024 + 4096;

/** A fault with no answer: the server must close this connection and send nothing at all. */
async function closesSilently(context: Context, bytes: string | Buffer): Promise<void> {
	const peer = await context.openRaw();
	peer.write(bytes);
	assert(await peer.closesWithin(closeWait), `the connection was still open after ${closeWait} ms`);
	assert(peer.received === 0, `the server sent ${peer.received} bytes before closing`);
}

/** A fault answered with one error (id null), after which the server closes. */
async function answersThenCloses(context: Context, body: string, code: number): Promise<void> {
	const peer = await context.openRaw();
	peer.write(`Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
	const answer = await peer.next(closeWait);
	assert(answer?.id === null && answer?.error?.code === code, `expected ${codeName(code)} with id null, got ${JSON.stringify(answer)}`);
	assert(await peer.closesWithin(closeWait), `the connection was still open ${closeWait} ms after the error`);
}

const frame = (message: object) => {
	const body = JSON.stringify({ jsonrpc: '2.0', ...message });
	return `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
};

/** Section 2.2: what a frame is, and that a broken one costs only its own connection. */
export const framingChecks = group(
	[
		'framing.split',
		'framing.missing-content-length',
		'framing.non-numeric',
		'framing.negative',
		'framing.too-large',
		'framing.header-flood',
		'framing.invalid-json',
		'framing.batch',
		'framing.isolation',
	],
	async (context) => {
		const { record } = context;
		await record.run('framing.split', async () => {
			const peer: RawPeer = await context.openRaw();
			const body = JSON.stringify({
				jsonrpc: '2.0',
				id: 1,
				method: 'initialize',
				params: { protocolVersion: PROTOCOL_VERSION, clientInfo: { name: 'ssd-conformance' }, capabilities: {} },
			});
			const whole = `content-length: ${Buffer.byteLength(body)}\r\nContent-Type: application/vscode-jsonrpc; charset=utf-8\r\n\r\n${body}`;
			// Cut inside the header name, inside the CRLFCRLF and inside the content, as TCP may.
			for (const [start, end] of [
				[0, 5],
				[5, whole.indexOf('\r\n\r\n') + 2],
				[whole.indexOf('\r\n\r\n') + 2, whole.length - 7],
				[whole.length - 7, whole.length],
			] as const) {
				peer.write(whole.slice(start, end));
				await sleep(30);
			}
			const initialized = await peer.next();
			assert(initialized.id === 1 && initialized.result, `the split initialize got ${JSON.stringify(initialized)}`);
			peer.write(frame({ id: 2, method: 'shutdown' }) + frame({ id: 3, method: 'shutdown' }));
			const first = await peer.next();
			const second = await peer.next();
			assert(first.id === 2 && first.result === null, `the first of two frames in one write got ${JSON.stringify(first)}`);
			assert(second.id === 3 && second.error?.code === ErrorCodes.ShuttingDown, `the second of two frames in one write got ${JSON.stringify(second)}`);
		});
		await record.run('framing.missing-content-length', () => closesSilently(context, 'Content-Type: application/vscode-jsonrpc; charset=utf-8\r\n\r\n{}'));
		await record.run('framing.non-numeric', () => closesSilently(context, 'Content-Length: two\r\n\r\n{}'));
		await record.run('framing.negative', () => closesSilently(context, 'Content-Length: -2\r\n\r\n{}'));
		// 16 digits pass the syntax rule but exceed every maxMessageBytes a server may be configured with.
		await record.run('framing.too-large', () => closesSilently(context, 'Content-Length: 9999999999999999\r\n\r\n'));
		await record.run('framing.header-flood', () =>
			closesSilently(context, Buffer.alloc(floodBytes, 'X-Flood: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n')),
		);
		await record.run('framing.invalid-json', () => answersThenCloses(context, '{"jsonrpc":"2.0","id":1,', ErrorCodes.ParseError));
		await record.run('framing.batch', () =>
			answersThenCloses(context, `[${JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'shutdown' })}]`, ErrorCodes.InvalidRequest),
		);
		await record.run('framing.isolation', async () => {
			const peer = await context.open();
			await peer.initialize();
			assert((await peer.request('shutdown')) === null, 'shutdown did not answer null');
			peer.destroy();
		});
	},
);
