import { randomBytes } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { TestFn } from 'ava';
import { execa, type Options } from 'execa';

/** One end of a veth pair, in a network namespace of its own: a separate host as far as the network goes. */
export interface NetnsHost {
	readonly namespace: string;
	readonly device: string;
	/** Its address, from 198.18.0.0/15 (RFC 2544, for tests; never routed). */
	readonly address: string;
	/** Runs `file args` inside the namespace (`ip netns exec`). */
	run(file: string, args: readonly string[], options?: Options): ReturnType<typeof execa>;
	/** `ip` inside the namespace, e.g. `ip(['addr', 'add', …])`. */
	ip(args: readonly string[]): Promise<unknown>;
}

export interface NetnsPair {
	readonly server: NetnsHost;
	readonly client: NetnsHost;
	/** Deletes both namespaces, and with them the veth pair. Processes still inside must be stopped first. */
	delete(): Promise<void>;
}

const ip = (args: readonly string[]) => execa('ip', args);

function host(namespace: string, device: string, address: string): NetnsHost {
	return {
		namespace,
		device,
		address,
		run: (file, args, options = {}) => execa('ip', ['netns', 'exec', namespace, file, ...args], options),
		ip: (args) => ip(['-n', namespace, ...args]),
	};
}

/** `ip netns delete`, retried: it can fail while a process that was inside is still exiting. */
async function deleteNamespace(name: string): Promise<void> {
	for (let attempt = 1; ; attempt++) {
		const result = await execa('ip', ['netns', 'delete', name], { reject: false });
		if (result.exitCode === 0 || !(await ip(['netns', 'list'])).stdout.split('\n').some((line) => line.split(' ')[0] === name)) return;
		if (attempt === 10) throw new Error(`cannot delete network namespace ${name}: ${result.stderr}`);
		await sleep(200);
	}
}

/** Namespaces this helper made, no process inside, older than this: a run that was killed before its cleanup. */
const ABANDONED_AFTER_MS = 10 * 60_000;

async function removeAbandonedPairs(): Promise<void> {
	const names = (await ip(['netns', 'list'])).stdout
		.split('\n')
		.map((line) => line.split(' ')[0]!)
		.filter((name) => /^ssdt-[0-9a-f]{6}-[sc]$/.test(name));
	for (const name of names) {
		const created = await stat(join('/run/netns', name)).then(
			(info) => info.mtimeMs,
			() => Date.now(),
		);
		const pids = (await ip(['netns', 'pids', name]).catch(() => ({ stdout: 'unknown' }))).stdout.trim();
		if (Date.now() - created > ABANDONED_AFTER_MS && pids === '') await deleteNamespace(name);
	}
}

/**
 * Two namespaces joined by a veth pair, each with loopback up, one address
 * in 198.18.0.0/24 and a multicast route, so that mDNS flows between them and
 * nowhere else. Unique names, so runs side by side do not collide.
 */
export async function createNetnsPair(): Promise<NetnsPair> {
	await removeAbandonedPairs();
	const tag = randomBytes(3).toString('hex');
	const server = host(`ssdt-${tag}-s`, `ssv${tag}s`, '198.18.0.1');
	const client = host(`ssdt-${tag}-c`, `ssv${tag}c`, '198.18.0.2');
	const created: string[] = [];
	const remove = async () => {
		for (const name of created.splice(0)) await deleteNamespace(name);
	};
	try {
		for (const end of [server, client]) {
			await ip(['netns', 'add', end.namespace]);
			created.push(end.namespace);
		}
		await ip(['link', 'add', server.device, 'netns', server.namespace, 'type', 'veth', 'peer', 'name', client.device, 'netns', client.namespace]);
		for (const end of [server, client]) {
			await end.ip(['link', 'set', 'lo', 'up']);
			await end.ip(['addr', 'add', `${end.address}/24`, 'dev', end.device]);
			await end.ip(['link', 'set', end.device, 'up']);
			await end.ip(['route', 'add', '224.0.0.0/4', 'dev', end.device]);
		}
	} catch (error) {
		await remove();
		throw error;
	}
	return { server, client, delete: remove };
}

/** Returns a maker of namespace pairs that are all deleted in an `after.always` hook, on failure too. */
export function withNetnsPairs<Context>(test: TestFn<Context>): () => Promise<NetnsPair> {
	const pairs: NetnsPair[] = [];
	test.after.always('delete network namespaces', async () => {
		for (const pair of pairs.splice(0)) await pair.delete();
	});
	return async () => {
		const pair = await createNetnsPair();
		pairs.push(pair);
		return pair;
	};
}
