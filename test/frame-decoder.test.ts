import test from 'ava';
import { encodeFrame, FrameDecoder, FramingError, parseMessage } from '@spyder-remote/protocol/node';

const limits = { maxHeaderBytes: 256, maxMessageBytes: 1024 };
const frame = (text: string) => encodeFrame(Buffer.from(text));

test('decodes back-to-back frames arriving in one chunk', (t) => {
	const decoder = new FrameDecoder(limits);
	decoder.push(Buffer.concat([frame('{"a":1}'), frame('{"b":2}')]));
	t.is(decoder.next()?.toString(), '{"a":1}');
	t.is(decoder.next()?.toString(), '{"b":2}');
	t.is(decoder.next(), undefined);
});

test('decodes a frame delivered one byte at a time', (t) => {
	const decoder = new FrameDecoder(limits);
	const bytes = frame('{"hello":"wörld"}');
	const bodies: string[] = [];
	for (const byte of bytes) {
		decoder.push(Buffer.from([byte]));
		const body = decoder.next();
		if (body) bodies.push(body.toString());
	}
	t.deepEqual(bodies, ['{"hello":"wörld"}']);
});

test('accepts header names in any case, Content-Type with utf-8, and a zero-length body', (t) => {
	const decoder = new FrameDecoder(limits);
	decoder.push(Buffer.from('content-length: 0\r\nContent-Type: application/vscode-jsonrpc; charset=utf8\r\n\r\n'));
	t.is(decoder.next()?.length, 0);
});

const faults: [string, string, FramingError['fault']][] = [
	['missing Content-Length', 'Content-Type: x\r\n\r\n', 'missing-content-length'],
	['non-numeric', 'Content-Length: 12a\r\n\r\n', 'bad-content-length'],
	['negative', 'Content-Length: -1\r\n\r\n', 'bad-content-length'],
	['exponent', 'Content-Length: 1e12\r\n\r\n', 'bad-content-length'],
	['too large', 'Content-Length: 1025\r\n\r\n', 'message-too-large'],
	['duplicate', 'Content-Length: 1\r\nContent-Length: 1\r\n\r\n', 'bad-header'],
	['other charset', 'Content-Length: 1\r\nContent-Type: application/json; charset=latin1\r\n\r\n', 'bad-header'],
	['no colon', 'Content-Length 5\r\n\r\n', 'bad-header'],
];
for (const [name, input, fault] of faults) {
	test(`refuses a header with ${name}`, (t) => {
		const decoder = new FrameDecoder(limits);
		decoder.push(Buffer.from(input));
		const error = t.throws(() => decoder.next(), { instanceOf: FramingError });
		t.is(error?.fault, fault);
	});
}

test('a flood without CRLFCRLF fails at the header limit, in linear time', (t) => {
	const limit = { maxHeaderBytes: 64 * 1024, maxMessageBytes: 1024 };
	const timeFlood = (chunks: number) => {
		const decoder = new FrameDecoder(limit);
		const chunk = Buffer.alloc(16, 'A');
		const started = process.hrtime.bigint();
		try {
			for (let i = 0; i < chunks; i += 1) {
				decoder.push(chunk);
				decoder.next();
			}
		} catch (error) {
			return { error: error as FramingError, ns: Number(process.hrtime.bigint() - started) };
		}
		return { error: undefined, ns: Number(process.hrtime.bigint() - started) };
	};
	const flood = timeFlood(10_000);
	t.is(flood.error?.fault, 'header-too-large');
	// 4096 chunks of 16 bytes reach the 64 KiB limit; a quadratic scan would touch ~130 MB here.
	t.true(flood.ns < 200e6, `took ${flood.ns / 1e6} ms`);
});

test('takeRemaining hands back undecoded bytes', (t) => {
	const decoder = new FrameDecoder(limits);
	decoder.push(Buffer.concat([frame('{}'), Buffer.from('Content-Len')]));
	t.is(decoder.next()?.toString(), '{}');
	t.is(decoder.takeRemaining().toString(), 'Content-Len');
});

test('parseMessage refuses a body nested past its depth before parsing it', (t) => {
	const deep = Buffer.from(`{"jsonrpc":"2.0","method":"x","params":${'['.repeat(40)}${']'.repeat(40)}}`);
	t.is(parseMessage(deep).method, 'x', 'within the default depth of 256');
	const error = t.throws(() => parseMessage(deep, 32), { instanceOf: FramingError });
	t.is(error?.fault, 'too-deep');
});
