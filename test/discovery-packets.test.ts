/**
 * mDNS packet handling under hostile input: the answer logic and the client's
 * cache as units, then a real responder process and a real browser fed
 * garbage, truncations, pointer loops, huge records and floods over loopback.
 */
import { randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { setTimeout as sleep } from 'node:timers/promises';
import test from 'ava';
import dnsPacket, { type Answer } from 'dns-packet';
import { execa, type ResultPromise } from 'execa';
import type { NetworkInterfaceInfo } from 'node:os';
import { discover } from '@spyder-remote/client';
import { answerQuestions, readQuestion, withoutKnownAnswers } from '../server/dist/responder/answers.js';
import { claimedNames, compareProbes } from '../server/dist/responder/conflicts.js';
import { describeLinks, subnetFilter } from '../server/dist/responder/interfaces.js';
import { nextHostLabel, nextInstanceName, instanceLabel } from '../server/dist/responder/names.js';
import { serviceRecords } from '../server/dist/responder/records.js';
import { RecordCache } from '../client-lib/dist/discovery/cache.js';
import { resolveServers } from '../client-lib/dist/discovery/servers.js';
import { parseTxt } from '@spyder-remote/protocol';
import { createInterface } from 'node:readline';

const SERVICE = '_spyder-remote._tcp.local';
const fingerprint = `SHA256:${'A'.repeat(43)}`;
const names = { instance: 'lab', host: 'lab-ssd-7446' };
const txt = ['txtvers=1', 'protovers=0.1.0', 'srvvers=0.1.0', `fp=${fingerprint}`, 'auth=password,publicKey', 'os=linux'].map((text) => Buffer.from(text));
const records = serviceRecords({ names, port: 7446, txt, addresses: ['198.18.0.1'] });
const question = (name: string, type: string, klass = 'IN') => readQuestion({ name, type: type as 'A', class: klass as 'IN' })!;

test('multi-question queries get every answer, the extras a browser needs, and NSEC for what is missing', (t) => {
	const { answers, additionals } = answerQuestions([question(SERVICE, 'PTR'), question('LAB-SSD-7446.local', 'AAAA')], records, names);
	t.deepEqual(
		answers.map((record) => `${record.name} ${record.type}`),
		[`${SERVICE} PTR`, 'lab-ssd-7446.local NSEC'],
	);
	t.deepEqual(additionals.map((record) => record.type).sort(), ['A', 'SRV', 'TXT']);
	t.deepEqual(answerQuestions([question('someone-else.local', 'A')], records, names).answers, []);
});

test('the unicast-response bit is read, and classes other than IN and ANY are not answered', (t) => {
	t.true(question(SERVICE, 'PTR', 'UNKNOWN_32769').unicastResponse);
	t.false(question(SERVICE, 'PTR', 'ANY').unicastResponse);
	t.is(readQuestion({ name: SERVICE, type: 'PTR', class: 'CH' }), undefined);
});

test('known answers with at least half our TTL are left out', (t) => {
	const ptr = records.shared[0]!;
	t.deepEqual(withoutKnownAnswers([ptr], [{ ...ptr, ttl: 4000 } as Answer]), []);
	t.is(withoutKnownAnswers([ptr], [{ ...ptr, ttl: 100 } as Answer]).length, 1, 'a nearly expired known answer is refreshed');
	t.is(withoutKnownAnswers([ptr], [{ ...ptr, data: 'other._spyder-remote._tcp.local' } as Answer]).length, 1);
});

test('only other data at our names is a conflict; our own echo and goodbyes are not', (t) => {
	const ours = [...records.shared, ...records.unique];
	t.deepEqual([...claimedNames(ours, ours, names)], []);
	const otherSrv = { name: `lab.${SERVICE}`, type: 'SRV', class: 'IN', ttl: 120, data: { priority: 0, weight: 0, port: 9999, target: 'x.local' } } as Answer;
	t.deepEqual([...claimedNames([otherSrv], ours, names)], ['instance']);
	t.deepEqual([...claimedNames([{ ...otherSrv, ttl: 0 } as Answer], ours, names)], []);
	const otherAddress = { name: 'lab-ssd-7446.local', type: 'A', class: 'IN', ttl: 120, data: '198.18.0.9' } as Answer;
	t.deepEqual([...claimedNames([otherAddress], ours, names)], ['host']);
	t.is(compareProbes(records.unique, records.unique, 'instance', names), 0);
	t.true(compareProbes(records.unique, [otherSrv], 'instance', names) < 0, 'a lexicographically later SRV wins the tiebreak');
});

test('links: non-internal interfaces by default, only the addresses the daemon serves, never without IPv4', (t) => {
	const entry = (address: string, family: 'IPv4' | 'IPv6', internal = false, cidr = `${address}/${family === 'IPv4' ? 24 : 64}`) =>
		({ address, family, internal, cidr, netmask: '', mac: '' }) as NetworkInterfaceInfo;
	const interfaces = {
		lo: [entry('127.0.0.1', 'IPv4', true, '127.0.0.1/8'), entry('::1', 'IPv6', true)],
		eth0: [entry('198.18.0.1', 'IPv4'), entry('fd00::1', 'IPv6'), entry('fe80::1', 'IPv6')],
		v6only: [entry('fd00::2', 'IPv6')],
	};
	t.deepEqual(describeLinks(interfaces, '0.0.0.0'), [{ name: 'eth0', socketAddress: '198.18.0.1', subnets: ['198.18.0.1/24'], served: ['198.18.0.1'] }]);
	t.deepEqual(describeLinks(interfaces, '::')[0]!.served, ['198.18.0.1', 'fd00::1'], 'no link-local address: it needs a zone');
	t.deepEqual(describeLinks(interfaces, '127.0.0.1'), [], 'a loopback listener is not announced on the network');
	t.deepEqual(
		describeLinks(interfaces, '127.0.0.1', ['lo']).map((link) => link.served),
		[['127.0.0.1']],
	);
	t.deepEqual(
		describeLinks(interfaces, '::', ['fd00::1']).map((link) => link.served),
		[['fd00::1']],
		'an address selects its interface and only itself',
	);
	t.true(subnetFilter(['198.18.0.1/24'])('198.18.0.200'));
	t.false(subnetFilter(['198.18.0.1/24'])('198.18.1.1'));
});

test('names are cleaned and renamed the DNS-SD way', (t) => {
	t.is(nextInstanceName('lab'), 'lab (2)');
	t.is(nextInstanceName('lab (2)'), 'lab (3)');
	t.is(nextHostLabel('lab-ssd-7446'), 'lab-ssd-7446-2');
	t.is(nextHostLabel('lab-ssd-7446-2'), 'lab-ssd-7446-3');
	t.is(instanceLabel('evil.name\u001b[31m'), 'evil-name-[31m');
	t.true(Buffer.byteLength(nextInstanceName('é'.repeat(40))) <= 63);
});

test('the client reads only well-formed TXT records', (t) => {
	t.deepEqual(parseTxt(txt)?.authMethods, ['password', 'publicKey']);
	t.is(parseTxt([...txt, Buffer.alloc(255, 'x'), ...Array.from({ length: 5 }, () => Buffer.alloc(255, 'y'))]), undefined, 'over 1300 bytes');
	t.is(parseTxt(txt.map((string) => (string.toString().startsWith('fp=') ? Buffer.from('fp=SHA256:short') : string))), undefined);
	t.is(parseTxt(txt.filter((string) => !string.toString().startsWith('os='))), undefined);
	t.is(parseTxt([Buffer.from(`fp=SHA256:${'C'.repeat(43)}`), ...txt])?.fingerprint, `SHA256:${'C'.repeat(43)}`, 'the first occurrence of a key wins');
	t.deepEqual(parseTxt(txt.map((string) => (string.toString().startsWith('auth=') ? Buffer.from('auth=telepathy,password') : string)))?.authMethods, [
		'password',
	]);
});

test('the client cache is bounded, honours goodbyes and cache-flush, and hides odd instance names', (t) => {
	const cache = new RecordCache();
	const now = 1_000_000;
	const flood: Answer[] = Array.from(
		{ length: 5000 },
		(_, index) => ({ name: SERVICE, type: 'PTR', class: 'IN', ttl: 120, data: `n${index}.${SERVICE}` }) as Answer,
	);
	cache.add(flood, now);
	t.is(cache.lookup(SERVICE, 'PTR').length, 2048);

	const small = new RecordCache();
	const instance = (label: string): Answer[] =>
		[
			{ name: SERVICE, type: 'PTR', class: 'IN', ttl: 4500, data: `${label}.${SERVICE}` },
			{ name: `${label}.${SERVICE}`, type: 'SRV', class: 'IN', ttl: 120, data: { priority: 0, weight: 0, port: 7446, target: 'h.local' } },
			{ name: `${label}.${SERVICE}`, type: 'TXT', class: 'IN', ttl: 4500, data: txt },
		] as Answer[];
	const addresses = Array.from({ length: 40 }, (_, index) => ({ name: 'h.local', type: 'A', class: 'IN', ttl: 120, data: `198.18.1.${index + 1}` }) as Answer);
	small.add([...instance('good'), ...instance('bad\u001b[2J'), ...instance('two.labels'), ...addresses], now);
	const servers = resolveServers(small);
	t.deepEqual([...servers.keys()], ['good']);
	t.is(servers.get('good')!.addresses.length, 16);

	small.add([{ ...(instance('good')[0] as object), ttl: 0 } as Answer], now + 10);
	t.false(small.expire(now + 500), 'a goodbye waits one second');
	t.true(small.expire(now + 1010));
	t.is(resolveServers(small).size, 0);

	const flushed = new RecordCache();
	flushed.add([...instance('good'), addresses[0]!], now);
	const newTxt = {
		name: `good.${SERVICE}`,
		type: 'TXT',
		class: 'IN',
		ttl: 4500,
		flush: true,
		data: [...txt.slice(0, 3), Buffer.from(`fp=SHA256:${'D'.repeat(43)}`), ...txt.slice(4)],
	} as Answer;
	flushed.add([newTxt], now + 5000);
	flushed.expire(now + 6001);
	t.is(flushed.lookup(`good.${SERVICE}`, 'TXT').length, 1, 'cache-flush retired the old TXT');
	t.is(resolveServers(flushed).get('good')!.fingerprint, `SHA256:${'D'.repeat(43)}`);
});

// ---------------------------------------------------------------- a real responder under fire

const instanceName = `hostile-${randomBytes(3).toString('hex')}`;
let responder: ResultPromise;

test.before(async () => {
	responder = execa(process.execPath, ['server/dist/bin/ssd-mdns-responder.js'], {
		stdin: 'pipe',
		stdout: 'ignore',
		stderr: 'pipe',
		buffer: false,
		reject: false,
	});
	responder.stdin!.write(
		`${JSON.stringify({ instanceName, port: 7446, listenAddress: '127.0.0.1', interfaces: ['lo'], protocolVersion: '0.1.0', serverVersion: '0.1.0', fingerprint, authMethods: ['password'], os: 'linux', logLevel: 'info' })}\n`,
	);
	// Lines, not chunks: a chunk boundary may split the word. Probing takes ~1 s; a loaded CI machine gets ample slack.
	const announced = new Promise<void>((resolve) =>
		createInterface({ input: responder.stderr! }).on('line', (line) => line.includes('"announced"') && resolve()),
	);
	await Promise.race([announced, sleep(20_000).then(() => Promise.reject(new Error('the responder did not announce')))]);
});

test.after.always(() => {
	responder?.kill('SIGKILL');
});

async function openSocket(port = 0): Promise<Socket> {
	const socket = createSocket({ type: 'udp4', reuseAddr: true });
	await new Promise<void>((resolve) => socket.bind(port, '0.0.0.0', () => resolve()));
	socket.setMulticastInterface('127.0.0.1');
	return socket;
}

const ptrQuery = (id: number) => dnsPacket.encode({ type: 'query', id, questions: [{ name: SERVICE, type: 'PTR' }] });

/** Sends a one-shot PTR query and resolves with whether our instance answered within `timeoutMs`. */
async function answers(timeoutMs = 1000): Promise<boolean> {
	const socket = await openSocket();
	try {
		return await new Promise<boolean>((resolve) => {
			setTimeout(() => resolve(false), timeoutMs);
			socket.on('message', (message) => {
				const packet = dnsPacket.decode(message);
				if (packet.answers?.some((record) => record.type === 'PTR' && record.data === `${instanceName}.${SERVICE}`)) resolve(true);
			});
			socket.send(ptrQuery(4242), 5353, '224.0.0.251');
		});
	} finally {
		socket.close();
	}
}

/**
 * Whether our instance answers one of a few queries, a second apart: after a flood the responder may still be working
 * through its backlog, and a single query may be dropped from a full receive buffer, as UDP allows.
 */
async function answersAgain(attempts = 10): Promise<boolean> {
	for (let attempt = 0; attempt < attempts; attempt++) if (await answers()) return true;
	return false;
}

function pointerLoops(): Buffer[] {
	const header = (questions: number) => Buffer.from([0, 1, 0, 0, 0, questions, 0, 0, 0, 0, 0, 0]);
	return [
		Buffer.concat([header(1), Buffer.from([0xc0, 0x0c, 0, 12, 0, 1])]), // a name that points at itself
		Buffer.concat([header(1), Buffer.from([1, 0x61, 0xc0, 0x0c, 0, 12, 0, 1])]), // a label, then back to its own start
		Buffer.concat([header(2), Buffer.from([1, 0x61, 0xc0, 0x12, 0, 12, 0, 1, 1, 0x62, 0xc0, 0x0c, 0, 12, 0, 1])]), // two names pointing at each other
		Buffer.concat([header(1), Buffer.from([0xc0, 0xff, 0, 12, 0, 1])]), // a pointer past the end
	];
}

test.serial('garbage, truncated packets, pointer loops and huge records neither crash the responder nor the browser', async (t) => {
	const browser = discover({ interfaces: ['lo'], knownHosts: false });
	const sender = await openSocket(5353);
	try {
		const valid = dnsPacket.encode({
			type: 'response',
			answers: [
				{ name: SERVICE, type: 'PTR', ttl: 120, data: `big.${SERVICE}` },
				{ name: `big.${SERVICE}`, type: 'SRV', ttl: 120, data: { priority: 0, weight: 0, port: 7446, target: 'big.local' } },
				{ name: 'big.local', type: 'A', ttl: 120, data: '127.0.0.1' },
				{ name: `big.${SERVICE}`, type: 'TXT', ttl: 120, data: [...txt, ...Array.from({ length: 30 }, () => Buffer.alloc(255, 'z'))] },
			],
		});
		t.true(valid.length < 9000, 'the huge TXT still fits in one mDNS packet');
		for (const loop of pointerLoops()) t.throws(() => dnsPacket.decode(loop));
		const hostile = [
			...Array.from({ length: 200 }, () => randomBytes(1 + Math.floor(Math.random() * 600))),
			...Array.from({ length: valid.length }, (_, length) => valid.subarray(0, length)),
			...pointerLoops(),
			Buffer.concat([valid, randomBytes(9000)]),
		];
		for (const packet of hostile) sender.send(packet, 5353, '224.0.0.251');
		await sleep(300);
		t.is(responder.exitCode, null, 'the responder is still running');
		t.true(await answersAgain(), 'and still answers');
		const found = await new Promise((resolve) => {
			const check = () => browser.servers.some((server) => server.instanceName === instanceName) && resolve(true);
			browser.on('up', check);
			check();
			setTimeout(() => resolve(false), 3000);
		});
		t.true(found, 'the browser still resolves the real server');
		t.false(
			browser.servers.some((server) => server.instanceName === 'big'),
			'an oversized TXT is not shown',
		);
	} finally {
		sender.close();
		await browser.close();
	}
});

test.serial('a flood of queries gets rate-limited answers, and the responder keeps serving', async (t) => {
	const socket = await openSocket();
	// Only this responder's answers count: other tests' servers may be announcing on loopback at the same time.
	const ours = (message: Buffer) => {
		try {
			return JSON.stringify(dnsPacket.decode(message)).includes(`${instanceName}.${SERVICE}`);
		} catch {
			return false;
		}
	};
	let unicast = 0;
	socket.on('message', (message) => ours(message) && (unicast += 1));
	const started = Date.now();
	for (let id = 0; id < 3000; id++) socket.send(ptrQuery(id), 5353, '224.0.0.251');
	await sleep(500);
	const seconds = (Date.now() - started) / 1000;
	socket.close();
	t.true(unicast >= 1, 'the first queries are answered');
	t.true(unicast <= 20 + Math.ceil(seconds * 10) + 2, `at most the burst plus 10 a second, got ${unicast} in ${seconds}s`);

	const listener = await openSocket(5353);
	let multicast = 0;
	listener.on('message', (message, source) => {
		if (source.port === 5353 && ours(message) && dnsPacket.decode(message).type === 'response') multicast += 1;
	});
	const querier = await openSocket(5353);
	for (let id = 0; id < 500; id++)
		querier.send(dnsPacket.encode({ type: 'query', questions: [{ name: `${instanceName}.${SERVICE}`, type: 'SRV' }] }), 5353, '224.0.0.251');
	await sleep(500);
	listener.close();
	querier.close();
	t.true(multicast <= 2, `a record goes out at most once a second per link, saw ${multicast} responses`);
	await sleep(200);
	t.true(await answersAgain(), 'served again once the flood is over');
});
