import { randomBytes } from 'node:crypto';
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

/**
 * Two namespaces joined by a veth pair, each with loopback up, one address
 * in 198.18.0.0/24 and a multicast route, so that mDNS flows between them and
 * nowhere else.
 */
async function createPair(names: string[]): Promise<NetnsPair> {
	const tag = randomBytes(3).toString('hex');
	const server = host(`ssdt-${tag}-s`, `ssv${tag}s`, '198.18.0.1');
	const client = host(`ssdt-${tag}-c`, `ssv${tag}c`, '198.18.0.2');
	for (const end of [server, client]) {
		await ip(['netns', 'add', end.namespace]);
		names.push(end.namespace);
	}
	await ip(['link', 'add', server.device, 'netns', server.namespace, 'type', 'veth', 'peer', 'name', client.device, 'netns', client.namespace]);
	for (const end of [server, client]) {
		await end.ip(['link', 'set', 'lo', 'up']);
		await end.ip(['addr', 'add', `${end.address}/24`, 'dev', end.device]);
		await end.ip(['link', 'set', end.device, 'up']);
		await end.ip(['route', 'add', '224.0.0.0/4', 'dev', end.device]);
	}
	return { server, client };
}

/**
 * Returns a maker of namespace pairs that are all deleted in an
 * `after.always` hook, on failure too. Deleting a namespace also deletes its
 * end of the veth pair; processes still inside must be stopped first.
 */
export function withNetnsPairs<Context>(test: TestFn<Context>): () => Promise<NetnsPair> {
	const names: string[] = [];
	test.after.always('delete network namespaces', async () => {
		for (const name of names.splice(0)) await ip(['netns', 'delete', name]).catch(() => undefined);
	});
	return () => createPair(names);
}
