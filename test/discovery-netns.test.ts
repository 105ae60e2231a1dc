/**
 * Discovery across two real network hosts: the server in one network
 * namespace, the client in another, joined by a veth pair. The client finds
 * the server by mDNS, connects to the address it found and logs in.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import test from 'ava';
import type { ResultPromise } from 'execa';
import { withNetnsPairs, type NetnsPair } from './helpers/netns.js';
import { withTestUsers, type TestUser } from './helpers/os-users.js';
import { requireRoot } from './helpers/root.js';

const serverBin = join(process.cwd(), 'server/dist/bin/ssd-server.js');
const clientBin = join(process.cwd(), 'client-lib/dist/bin/ssd.js');
const port = 7446;
const instanceName = `netns-${randomBytes(3).toString('hex')}`;

const processes = new Set<ResultPromise>();
// Declared before the namespace hook, so that everything inside is stopped before the namespaces go.
test.after.always('stop processes', async () => {
	for (const child of processes) child.kill('SIGKILL');
	await Promise.allSettled(processes);
});
const newPair = withNetnsPairs(test);
const newUser = withTestUsers(test);

let pair: NetnsPair;
let user: TestUser;
let directory: string;
let server: ResultPromise;
let fingerprint: string;
/** Bounds for things that happen within a second or two, generous because CI shares two cores with other test files. */
const livenessMs = 15_000;

/** Lines of a child's stdout, as they come. */
function lines(child: ResultPromise): AsyncIterableIterator<string> {
	return createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
}

async function nextMatching<T>(source: AsyncIterator<string>, pick: (line: string) => T | undefined, timeoutMs: number, what: string): Promise<T> {
	const deadline = new Promise<never>((_, reject) =>
		setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs).unref(),
	);
	const search = (async () => {
		for (let next = await source.next(); !next.done; next = await source.next()) {
			const found = pick(next.value);
			if (found !== undefined) return found;
		}
		throw new Error(`output ended while waiting for ${what}`);
	})();
	return Promise.race([search, deadline]);
}

const ssdIn = (args: string[], input = '') =>
	pair.client.run(process.execPath, [clientBin, ...args], {
		reject: false,
		input,
		env: { SPYDER_REMOTE_CONFIG_DIR: join(directory, 'client') },
		timeout: 20_000,
	});

test.before(async () => {
	requireRoot('the netns discovery test needs root: it creates network namespaces and OS users');
	pair = await newPair();
	user = await newUser();
	directory = await mkdtemp(join(tmpdir(), 'ssd-netns-'));
	// Session hosts run as the test user and must reach their sockets below here.
	await chmod(directory, 0o711);
	const config = join(directory, 'config.json');
	await writeFile(
		config,
		JSON.stringify({
			mode: 'system',
			listen: { host: '0.0.0.0', port },
			stateDir: join(directory, 'state'),
			runtimeDir: join(directory, 'run'),
			auth: { failureDelayMs: 0 },
			logLevel: 'info',
			discovery: { instanceName },
		}),
	);
	server = pair.server.run(process.execPath, [serverBin, 'start', '--config', config], { reject: false, stderr: 'ignore' });
	processes.add(server);
	fingerprint = await nextMatching(lines(server), (line) => /^certificate fingerprint: (SHA256:\S+)$/.exec(line)?.[1], 15_000, 'the server to start');
});

test.after.always(async () => {
	if (directory) await rm(directory, { recursive: true, force: true });
});

interface Found {
	instanceName: string;
	addresses: string[];
	port: number;
	fingerprint: string;
	pinned: boolean;
	authMethods: string[];
}

async function discoverFromClient(): Promise<Found | undefined> {
	const result = await ssdIn(['discover', '--json', '--timeout', '2500']);
	if (result.exitCode !== 0) throw new Error(`ssd discover failed: ${result.stderr}`);
	return (JSON.parse(result.stdout) as Found[]).find((candidate) => candidate.instanceName === instanceName);
}

test.serial('a client on another host discovers the server, connects to the discovered address and logs in', async (t) => {
	const found = await discoverFromClient();
	t.truthy(found, 'the server was discovered');
	t.deepEqual(found!.addresses, [pair.server.address]);
	t.is(found!.port, port);
	t.is(found!.fingerprint, fingerprint, 'the announced fingerprint is the one the server printed');
	t.false(found!.pinned);
	t.deepEqual(found!.authMethods, ['password', 'publicKey']);

	// The fingerprint to trust comes from the server's own output (out of band), never from the announcement.
	const who = await ssdIn(
		['whoami', `${found!.addresses[0]}:${found!.port}`, '--user', user.name, '--password-stdin', '--fingerprint', fingerprint, '--json'],
		`${user.password}\n`,
	);
	t.is(who.exitCode, 0, who.stderr as string);
	t.is(JSON.parse(who.stdout as string).uid, user.uid);

	const again = await discoverFromClient();
	t.true(again?.pinned, 'after the login pinned it, the announcement shows as pinned');
});

test.serial('a new address is re-announced, and shutdown is seen as a goodbye', async (t) => {
	const watcher = pair.client.run(process.execPath, [clientBin, 'discover', '--watch', '--json'], {
		reject: false,
		env: { SPYDER_REMOTE_CONFIG_DIR: join(directory, 'client') },
	});
	processes.add(watcher);
	const events = lines(watcher);
	const ours = (type: string) => (line: string) => {
		const event = JSON.parse(line) as { type: string; server: Found };
		return event.type === type && event.server.instanceName === instanceName ? event.server : undefined;
	};
	await nextMatching(events, ours('up'), livenessMs, 'the server to come up');

	await pair.server.ip(['addr', 'add', '198.18.0.3/24', 'dev', pair.server.device]);
	const updated = await nextMatching(events, ours('updated'), livenessMs, 'the new address to be announced');
	t.deepEqual(updated.addresses, [pair.server.address, '198.18.0.3']);

	const stoppedAt = Date.now();
	server.kill('SIGTERM');
	await nextMatching(events, ours('down'), livenessMs, 'the goodbye');
	// A goodbye is seen within seconds; without one the record would only go when its 120 s TTL runs out.
	t.true(Date.now() - stoppedAt < 10_000, 'down by a goodbye, not after a TTL');
	t.is((await server).exitCode, 0);
	watcher.kill('SIGTERM');
	await watcher;
});
