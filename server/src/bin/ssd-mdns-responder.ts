/**
 * The mDNS responder process. The daemon starts it (in system mode as an
 * unprivileged user) so that packets from the network are never parsed by
 * root. Its only input besides the network is one JSON line on stdin: what
 * to announce. It says goodbye and exits on SIGTERM, when stdin closes, or
 * when the daemon is gone.
 */
import { hostname, networkInterfaces } from 'node:os';
import { createInterface } from 'node:readline';
import { encodeTxt } from '@spyder-remote/protocol';
import { createLogger } from '../common/log.js';
import { parseAnnouncement, type Announcement } from '../common/announcement.js';
import { describeLinks, sameLinks, type LinkDescription } from '../responder/interfaces.js';
import { hostLabel, instanceLabel } from '../responder/names.js';
import { Responder } from '../responder/responder.js';

/** Interfaces are polled: Node has no netlink events, and a syscall a second costs nothing. */
const INTERFACE_POLL_MS = 1000;
const MAX_INPUT_BYTES = 64 * 1024;

function readAnnouncement(): Promise<Announcement> {
	return new Promise((resolve, reject) => {
		let received = 0;
		process.stdin.on('data', (chunk: Buffer) => {
			received += chunk.length;
			if (received > MAX_INPUT_BYTES) reject(new Error('announcement too large'));
		});
		const lines = createInterface({ input: process.stdin });
		lines.once('line', (line) => {
			try {
				resolve(parseAnnouncement(line));
			} catch (error) {
				reject(error);
			}
		});
		lines.once('close', () => reject(new Error('stdin closed before the announcement arrived')));
	});
}

const announcement = await readAnnouncement();
const logger = createLogger(announcement.logLevel, { component: 'discovery' });
const responder = new Responder({
	names: { instance: instanceLabel(announcement.instanceName), host: hostLabel(hostname(), announcement.port) },
	port: announcement.port,
	txt: encodeTxt(announcement).map((text) => Buffer.from(text, 'utf8')),
	logger,
});

let links: LinkDescription[] = [];
let updating: Promise<void> = Promise.resolve();
const refreshLinks = () => {
	updating = updating.then(async () => {
		const current = describeLinks(networkInterfaces(), announcement.listenAddress, announcement.interfaces);
		if (sameLinks(current, links)) return;
		if (current.length === 0) logger.info({ interfaces: announcement.interfaces ?? 'all non-internal' }, 'no interface to announce on yet');
		try {
			await responder.setLinks(current);
			links = current;
		} catch (error) {
			// An interface may vanish between listing and binding; the next poll tries again, and the chain stays usable.
			logger.warn({ reason: (error as Error).message }, 'updating the announced links failed; retrying at the next poll');
		}
	});
};
refreshLinks();
const poll = setInterval(refreshLinks, INTERFACE_POLL_MS);

let stopping = false;
async function stop(reason: string): Promise<void> {
	if (stopping) return;
	stopping = true;
	clearInterval(poll);
	logger.info({ reason }, 'discovery responder stopping');
	const deadline = setTimeout(() => process.exit(1), 3000);
	await updating;
	await responder.stop();
	clearTimeout(deadline);
	process.exit(0);
}

process.on('SIGTERM', () => void stop('SIGTERM'));
process.on('SIGINT', () => void stop('SIGINT'));
process.stdin.on('end', () => void stop('daemon closed stdin'));
// stdin's end is the fast signal; the parent pid is the sure one, as in the session host.
const daemonPid = process.ppid;
setInterval(() => {
	if (process.ppid !== daemonPid) void stop('daemon exited');
}, 1000).unref();
