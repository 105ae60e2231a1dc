/**
 * Discovery over loopback only, for machines without network namespaces:
 * real servers (their responders run as `nobody`), the real client library.
 */
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import test from 'ava';
import dnsPacket from 'dns-packet';
import { connect, discover, type DiscoveredServer, type Discovery, type KnownHosts } from '@spyder-remote/client';
import { withTestUsers, type TestUser } from './helpers/os-users.js';
import { startTestServer, temporaryKnownHosts, type TestServer } from './helpers/server.js';
import { requireRoot } from './helpers/root.js';

const tag = randomBytes(3).toString('hex');
const instanceName = `loop-${tag}`;
const newUser = withTestUsers(test);
const running = new Set<TestServer>();
let user: TestUser;
let knownHosts: KnownHosts;
let first: TestServer;

const startAnnounced = async (name = instanceName) => {
	const server = await startTestServer({ discovery: { enabled: true, interfaces: ['lo'], instanceName: name } });
	running.add(server);
	return server;
};

test.before(async () => {
	requireRoot('discovery tests need root: the responder is started as nobody, and logins need OS users');
	user = await newUser();
	knownHosts = await temporaryKnownHosts();
	first = await startAnnounced();
});

test.after.always(async () => {
	await Promise.all([...running].map((server) => server.stop()));
});

/** The first server matching `wanted`, already known or yet to come, within `timeoutMs`. */
function waitFor(discovery: Discovery, wanted: (server: DiscoveredServer, type: string) => boolean, timeoutMs = 5000): Promise<DiscoveredServer> {
	const known = discovery.servers.find((server) => wanted(server, 'up'));
	if (known) return Promise.resolve(known);
	return new Promise((resolve, reject) => {
		const timer = setTimeout(() => reject(new Error('not discovered in time')), timeoutMs);
		discovery.on('event', ({ type, server }) => {
			if (!wanted(server, type)) return;
			clearTimeout(timer);
			resolve(server);
		});
	});
}

test.serial('a loopback server is discovered, and the client connects to the discovered address and logs in', async (t) => {
	const discovery = discover({ interfaces: ['lo'], knownHosts });
	try {
		const found = await waitFor(discovery, (server) => server.instanceName === instanceName);
		t.deepEqual(found.addresses, ['127.0.0.1']);
		t.is(found.port, first.server.port);
		t.is(found.fingerprint, first.server.fingerprint);
		t.false(found.pinned);

		const warnings: string[] = [];
		const session = await connect({
			host: found.addresses[0]!,
			port: found.port,
			knownHosts,
			announcedFingerprint: found.fingerprint,
			onWarning: (message) => warnings.push(message),
			// The test knows the real fingerprint out of band, as a user would from the administrator.
			onUnknownHost: ({ fingerprint }) => fingerprint === first.server.fingerprint,
		});
		await session.loginWithPassword(user.name, user.password);
		t.is((await session.whoami()).uid, user.uid);
		await session.close();
		t.deepEqual(warnings, []);
	} finally {
		await discovery.close();
	}
	const again = discover({ interfaces: ['lo'], knownHosts });
	t.true((await waitFor(again, (server) => server.instanceName === instanceName)).pinned, 'pinned once known_hosts has it');
	await again.close();
});

test.serial('a second server with the same instance name renames itself', async (t) => {
	const discovery = discover({ interfaces: ['lo'], knownHosts: false });
	try {
		const second = await startAnnounced();
		const renamed = await waitFor(discovery, (server) => server.port === second.server.port);
		t.is(renamed.instanceName, `${instanceName} (2)`);
		const original = await waitFor(discovery, (server) => server.instanceName === instanceName);
		t.is(original.port, first.server.port, 'the first server keeps its name');
	} finally {
		await discovery.close();
	}
});

test.serial('a spoofed announcement with another fingerprint is never shown as pinned, and connecting warns', async (t) => {
	const spoofName = `spoof-${tag}`;
	const bogus = `SHA256:${'B'.repeat(43)}`;
	const discovery = discover({ interfaces: ['lo'], knownHosts });
	const spoofer = createSocket({ type: 'udp4', reuseAddr: true });
	try {
		await new Promise<void>((resolve) => spoofer.bind(5353, '0.0.0.0', () => resolve()));
		spoofer.setMulticastInterface('127.0.0.1');
		const service = `${spoofName}._spyder-remote._tcp.local`;
		// It claims the real server's address and port, which known_hosts pins to the real fingerprint.
		const lie = dnsPacket.encode({
			type: 'response',
			flags: dnsPacket.AUTHORITATIVE_ANSWER,
			answers: [
				{ name: '_spyder-remote._tcp.local', type: 'PTR', ttl: 120, data: service },
				{ name: service, type: 'SRV', ttl: 120, data: { port: first.server.port, target: 'spoof.local' } },
				{ name: service, type: 'TXT', ttl: 120, data: ['txtvers=1', 'protovers=0.1.0', 'srvvers=0.1.0', `fp=${bogus}`, 'auth=password', 'os=linux'] },
				{ name: 'spoof.local', type: 'A', ttl: 120, data: '127.0.0.1' },
			],
		});
		const spoofed = waitFor(discovery, (server) => server.instanceName === spoofName);
		spoofer.send(lie, 5353, '224.0.0.251');
		const found = await spoofed;
		t.is(found.fingerprint, bogus);
		t.false(found.pinned, 'a fingerprint known_hosts does not hold for this address is not pinned');
		t.true((await waitFor(discovery, (server) => server.instanceName === instanceName)).pinned, 'the real one is');

		const warnings: string[] = [];
		const session = await connect({
			host: found.addresses[0]!,
			port: found.port,
			knownHosts,
			announcedFingerprint: found.fingerprint,
			onWarning: (message) => warnings.push(message),
		});
		t.is(session.server.fingerprint, first.server.fingerprint, 'the certificate decides, not the announcement');
		await session.close();
		t.is(warnings.length, 1);
		t.regex(
			warnings[0]!,
			new RegExp(`presented the certificate ${first.server.fingerprint.replace(/[+/]/g, '\\$&')}, but its discovery announcement said ${bogus}`),
		);
	} finally {
		spoofer.close();
		await discovery.close();
	}
});

test.serial('when a server shuts down, clients see it go down at once', async (t) => {
	const discovery = discover({ interfaces: ['lo'], knownHosts: false });
	try {
		await waitFor(discovery, (server) => server.instanceName === instanceName);
		const down = waitFor(discovery, (server, type) => type === 'down' && server.instanceName === instanceName);
		const stoppedAt = Date.now();
		await first.stop();
		running.delete(first);
		await down;
		t.true(Date.now() - stoppedAt < 3000, 'the goodbye arrived; no TTL had to run out');
	} finally {
		await discovery.close();
	}
});
