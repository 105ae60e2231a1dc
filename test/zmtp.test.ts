import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { access, mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { JupyterMessageError, JupyterSession } from '../server/src/session-host/kernels/jupyter-messages.js';
import { KernelClient, KernelClientError, type ConnectionInfo } from '../server/src/session-host/kernels/kernel-client.js';
import {
	encodeCommand,
	encodeGreeting,
	encodeMessage,
	encodeProperties,
	parseProperties,
	ZmtpDecoder,
	ZmtpError,
	ZmtpSocket,
	type ZmtpEvent,
} from '../server/src/session-host/kernels/zmtp.js';

// ---- frame codec ----

const routerHandshake = () => Buffer.concat([encodeGreeting(), encodeCommand('READY', encodeProperties({ 'Socket-Type': Buffer.from('ROUTER') }))]);
const messages = (events: ZmtpEvent[]) => events.flatMap((event) => (event.kind === 'message' ? [event.frames.map((frame) => frame.toString())] : []));

test('short frames carry MORE on all but the last', (t) => {
	const bytes = encodeMessage([Buffer.from('ab'), Buffer.from(''), Buffer.from('c')]);
	t.deepEqual([...bytes], [0x01, 2, 0x61, 0x62, 0x01, 0, 0x00, 1, 0x63]);
});

test('frames over 255 bytes use the 8-byte size and decode back', (t) => {
	const big = Buffer.alloc(300, 'x');
	const bytes = encodeMessage([big, Buffer.from('tail')]);
	t.is(bytes[0], 0x03, 'LONG | MORE');
	t.is(bytes.readBigUInt64BE(1), 300n);
	const decoder = new ZmtpDecoder();
	decoder.push(encodeGreeting());
	t.deepEqual(messages(decoder.push(bytes)), [[big.toString(), 'tail']]);
});

test('greeting, READY and multipart messages survive arriving one byte at a time', (t) => {
	const stream = Buffer.concat([
		routerHandshake(),
		encodeMessage([Buffer.from('one'), Buffer.alloc(1000, 'y'), Buffer.from('three')]),
		encodeMessage([Buffer.from('single')]),
	]);
	const decoder = new ZmtpDecoder();
	const events: ZmtpEvent[] = [];
	for (const byte of stream) events.push(...decoder.push(Buffer.from([byte])));
	t.deepEqual(
		events.map((event) => event.kind),
		['greeting', 'command', 'message', 'message'],
	);
	const greeting = events[0]!.kind === 'greeting' ? events[0]!.greeting : undefined;
	t.deepEqual(greeting, { major: 3, minor: 0, mechanism: 'NULL', asServer: false });
	const ready = events[1]!;
	t.is(ready.kind === 'command' && parseProperties(ready.data).get('socket-type')?.toString(), 'ROUTER');
	t.deepEqual(messages(events), [['one', 'y'.repeat(1000), 'three'], ['single']]);
});

test('the decoder refuses oversized messages, reserved flags and non-ZMTP peers', (t) => {
	const small = new ZmtpDecoder(100);
	small.push(encodeGreeting());
	const tooLarge = encodeMessage([Buffer.alloc(60), Buffer.alloc(50)]);
	t.throws(() => small.push(tooLarge), { instanceOf: ZmtpError, message: /exceeds the limit of 100 bytes/ }, 'the limit applies to the whole message');
	const flags = new ZmtpDecoder();
	flags.push(encodeGreeting());
	t.throws(() => flags.push(Buffer.from([0x08, 0])), { instanceOf: ZmtpError, message: /reserved frame flag/ });
	t.throws(() => new ZmtpDecoder().push(Buffer.alloc(64, 'G')), { instanceOf: ZmtpError, message: /greeting signature/ });
	const huge = new ZmtpDecoder();
	huge.push(encodeGreeting());
	t.throws(
		() => huge.push(Buffer.from([0x02, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])),
		{ message: /exceeds the limit/ },
		'a 2^64-1 size is not trusted',
	);
});

test('ZmtpSocket handshakes, answers PING, and delivers messages both ways (fake ROUTER peer)', async (t) => {
	const dir = await mkdtemp(join(tmpdir(), 'zmtp-'));
	const path = join(dir, 'peer');
	const peerDecoder = new ZmtpDecoder();
	const fromClient: ZmtpEvent[] = [];
	let peerSocket: net.Socket | undefined;
	const server = net.createServer((socket) => {
		peerSocket = socket;
		socket.on('data', (chunk: Buffer) => {
			fromClient.push(...peerDecoder.push(chunk));
			if (fromClient.some((event) => event.kind === 'command' && event.name === 'READY')) {
				// READY, a message and a PING in one write: the message must wait for a listener, not be lost.
				socket.write(Buffer.concat([routerHandshake(), encodeMessage([Buffer.from('early')]), encodeCommand('PING', Buffer.from([0, 10, 0x63, 0x74, 0x78]))]));
				socket.removeAllListeners('data');
				socket.on('data', (more: Buffer) => fromClient.push(...peerDecoder.push(more)));
			}
		});
	});
	server.listen(path);
	await once(server, 'listening');
	try {
		const client = await ZmtpSocket.connect({ path }, 'DEALER', { identity: Buffer.from('me') });
		const received: string[][] = [];
		client.onMessage((frames) => received.push(frames.map(String)));
		client.send([Buffer.from('hello'), Buffer.alloc(400, 'z')]);
		await waitFor(() => received.length === 1 && fromClient.some((event) => event.kind === 'message'), 2000);
		t.deepEqual(received, [['early']]);
		const ready = fromClient.find((event) => event.kind === 'command' && event.name === 'READY');
		const properties = ready?.kind === 'command' ? parseProperties(ready.data) : new Map<string, Buffer>();
		t.is(properties.get('socket-type')?.toString(), 'DEALER');
		t.is(properties.get('identity')?.toString(), 'me');
		t.true(fromClient.some((event) => event.kind === 'command' && event.name === 'PONG' && event.data.toString() === 'ctx'));
		t.deepEqual(messages(fromClient), [['hello', 'z'.repeat(400)]]);
		const closed = new Promise<Error | undefined>((resolve) => client.onClose(resolve));
		peerSocket?.destroy();
		t.is(await closed, undefined, 'a clean close from the peer is reported');
		t.throws(() => client.send([Buffer.from('late')]), { instanceOf: ZmtpError });
	} finally {
		server.close();
		await rm(dir, { recursive: true, force: true });
	}
});

// ---- Jupyter messages ----

const key = () => randomBytes(32).toString('hex');

test('messages signed with the shared key parse; a wrong key or tampering is rejected', (t) => {
	const shared = key();
	const sender = new JupyterSession({ key: shared, signatureScheme: 'hmac-sha256' });
	const receiver = new JupyterSession({ key: shared, signatureScheme: 'hmac-sha256' });
	const { frames, header } = sender.build('execute_request', { code: '1+1' });
	const parsed = receiver.parse([Buffer.from('routing-id'), ...frames, Buffer.from('buffer')]);
	t.is(parsed.header.msg_id, header.msg_id);
	t.is(parsed.header.version, '5.3');
	t.is(parsed.header.session, sender.id);
	t.deepEqual(parsed.content, { code: '1+1' });
	t.deepEqual(parsed.identities.map(String), ['routing-id']);
	t.deepEqual(parsed.buffers.map(String), ['buffer']);

	const stranger = new JupyterSession({ key: key(), signatureScheme: 'hmac-sha256' });
	t.throws(() => stranger.parse(frames), { instanceOf: JupyterMessageError, message: /signature/ });
	const tampered = [...frames];
	tampered[5] = Buffer.from('{"code":"import os; os.system(\'id\')"}');
	t.is(t.throws<JupyterMessageError>(() => receiver.parse(tampered))?.fault, 'bad-signature');
	const unsigned = [...frames];
	unsigned[1] = Buffer.alloc(0);
	t.is(t.throws<JupyterMessageError>(() => receiver.parse(unsigned))?.fault, 'bad-signature');
	t.is(t.throws<JupyterMessageError>(() => receiver.parse(frames.slice(1)))?.fault, 'no-delimiter');
	t.is(t.throws<JupyterMessageError>(() => receiver.parse(frames.slice(0, 4)))?.fault, 'too-few-frames');
	t.throws(() => new JupyterSession({ key: shared, signatureScheme: 'hmac-nope' }), { message: /signature scheme/ });
});

// ---- real kernels ----

const kernels = {
	ipykernel: ['-m', 'ipykernel_launcher'],
	'spyder-kernels': ['-m', 'spyder_kernels.console'],
} as const;
type KernelKind = keyof typeof kernels;

interface RunningKernel {
	readonly process: ChildProcess;
	readonly exited: Promise<unknown>;
	readonly info: ConnectionInfo;
	readonly dir: string;
}

const started: RunningKernel[] = [];

async function startKernel(kind: KernelKind): Promise<RunningKernel> {
	const dir = await mkdtemp(join(tmpdir(), 'zmtp-kernel-'));
	const info: ConnectionInfo = {
		transport: 'ipc',
		ip: join(dir, 'k'),
		shell_port: 1,
		iopub_port: 2,
		stdin_port: 3,
		control_port: 4,
		hb_port: 5,
		key: key(),
		signature_scheme: 'hmac-sha256',
	};
	const connectionFile = join(dir, 'connection.json');
	await writeFile(connectionFile, JSON.stringify(info), { mode: 0o600 });
	// Its own process group, so the kernel's interrupt_request handler (killpg) hits only the kernel.
	const child = spawn('/usr/bin/python3', [...kernels[kind], '-f', connectionFile], {
		detached: true,
		stdio: 'ignore',
		env: { ...process.env, IPYTHONDIR: join(dir, 'ipython'), PYDEVD_DISABLE_FILE_VALIDATION: '1' },
	});
	const kernel = { process: child, exited: once(child, 'exit'), info, dir };
	started.push(kernel);
	return kernel;
}

const isRunning = (kernel: RunningKernel) => kernel.process.exitCode === null && kernel.process.signalCode === null;
const exitsWithin = (kernel: RunningKernel, ms: number) =>
	Promise.race([kernel.exited.then(() => true), new Promise<boolean>((resolve) => setTimeout(() => resolve(false), ms))]);

async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
	const deadline = Date.now() + timeoutMs;
	while (!(await check())) {
		if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
		await new Promise((resolve) => setTimeout(resolve, 20));
	}
}

test.after.always(async () => {
	for (const kernel of started) {
		if (isRunning(kernel)) process.kill(-kernel.process.pid!, 'SIGKILL');
	}
	await Promise.all(
		started.map(async (kernel) => {
			if (isRunning(kernel)) await kernel.exited;
			await rm(kernel.dir, { recursive: true, force: true });
		}),
	);
});

for (const kind of Object.keys(kernels) as KernelKind[]) {
	test(`${kind}: kernel_info, stdout, results, errors, and a wrong key`, async (t) => {
		const kernel = await startKernel(kind);
		const client = await KernelClient.connect(kernel.info);
		const states = new Set<string>();
		client.onStatus((state) => states.add(state));
		try {
			const info = await client.waitReady(15_000);
			t.is((info['language_info'] as { name: string }).name, 'python');
			t.is(info['protocol_version'], '5.3');

			const pid = await client.execute('import os; print(os.getpid())');
			t.deepEqual(pid, { status: 'ok', stdout: `${kernel.process.pid}\n`, stderr: '' });
			t.is((await client.execute('1+1')).result, '2');
			t.true(states.has('busy') && states.has('idle'), 'status broadcasts reach onStatus');
			const big = await client.execute("print('x' * 300000)");
			t.is(big.stdout.length, 300001, 'output larger than a socket buffer arrives whole');
			const failed = await client.execute('import sys; print("to stderr", file=sys.stderr); raise ValueError("boom")');
			t.is(failed.status, 'error');
			t.is(failed.error?.ename, 'ValueError');
			t.is(failed.error?.evalue, 'boom');
			t.is(failed.stderr, 'to stderr\n');

			// Both sides refuse what the wrong key signed: the kernel ignores the requests, we drop its broadcasts.
			const dropped: Error[] = [];
			const stranger = await KernelClient.connect({ ...kernel.info, key: key() }, { onDroppedMessage: (error) => dropped.push(error) });
			await t.throwsAsync(stranger.waitReady(600), { instanceOf: KernelClientError, message: /timed out/ });
			await waitFor(async () => {
				await client.execute('pass');
				return dropped.length > 0;
			}, 5000);
			t.true(dropped.every((error) => error instanceof JupyterMessageError && error.fault === 'bad-signature'));
			stranger.close();

			// libzmq 4.3 checks our Socket-Type first and hangs up on the mismatch without sending its READY.
			const hb = ZmtpSocket.connect({ path: `${kernel.info.ip}-${kernel.info.hb_port}` }, 'SUB');
			await t.throwsAsync(hb, { instanceOf: ZmtpError, message: /closed the connection during the handshake/ });
		} finally {
			client.close();
		}
	});

	// Debian's python3 kernelspec names no interrupt_mode, so it is 'signal'; both kernels still honour
	// interrupt_request on control (ipykernel 6 signals itself), and the host may use either.
	test(`${kind}: interrupt by SIGINT and by interrupt_request`, async (t) => {
		const kernel = await startKernel(kind);
		const client = await KernelClient.connect(kernel.info);
		try {
			await client.waitReady(15_000);
			for (const how of ['SIGINT', 'interrupt_request'] as const) {
				// The marker shows the sleep has begun: outside of execution these kernels ignore SIGINT.
				const marker = join(kernel.dir, `sleeping-${how}`);
				const running = client.execute(`import time; open(${JSON.stringify(marker)}, 'w').close(); time.sleep(30)`, { timeoutMs: 15_000 });
				await waitFor(
					() =>
						access(marker).then(
							() => true,
							() => false,
						),
					10_000,
				);
				const interruptedAt = Date.now();
				if (how === 'SIGINT') process.kill(kernel.process.pid!, 'SIGINT');
				else await client.interrupt();
				const outcome = await running;
				t.is(outcome.status, 'error', how);
				t.is(outcome.error?.ename, 'KeyboardInterrupt', how);
				t.true(Date.now() - interruptedAt < 5000, `${how} took effect promptly`);
			}
			t.is((await client.execute('1+1')).result, '2', 'the kernel works after being interrupted');
		} finally {
			client.close();
		}
	});

	test(`${kind}: shutdown_request, then SIGTERM if the kernel stays`, async (t) => {
		const kernel = await startKernel(kind);
		const client = await KernelClient.connect(kernel.info);
		try {
			await client.waitReady(15_000);
			const reply = await client.shutdown();
			if (kind === 'ipykernel') {
				t.deepEqual(reply, { status: 'ok', restart: false });
				t.true(await exitsWithin(kernel, 5000), 'ipykernel exits on shutdown_request');
				await t.throwsAsync(client.execute('1'), { instanceOf: KernelClientError, message: /closed/ });
			} else {
				// spyder-kernels 2.4.2's do_shutdown returns None, so the reply is empty, and its comm thread keeps the process alive.
				t.deepEqual(reply, {});
				if (!(await exitsWithin(kernel, 1000))) {
					t.log('spyder-kernels still running 1 s after shutdown_request; sending SIGTERM');
					process.kill(kernel.process.pid!, 'SIGTERM');
				}
				t.true(await exitsWithin(kernel, 8000), 'spyder-kernels exits on SIGTERM');
			}
			t.false(isRunning(kernel));
		} finally {
			client.close();
		}
	});
}
