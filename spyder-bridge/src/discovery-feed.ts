import { discover, type DiscoveredServer, type Discovery } from '@spyder-remote/client';
import type { MessageConnection } from 'vscode-jsonrpc/node';
import { DiscoveryEventNotification, LogNotification } from './protocol/main.js';

/** Browses for servers while a dialog shows them, and streams what appears and goes. */
export class DiscoveryFeed {
	private discovery: Discovery | undefined;

	constructor(private readonly plugin: MessageConnection) {}

	/** (Re)starts browsing; the servers already known come back at once, later changes as `discovery/event`. */
	async start(interfaces: readonly string[] | undefined): Promise<DiscoveredServer[]> {
		await this.stop();
		const discovery = discover(interfaces?.length ? { interfaces } : {});
		this.discovery = discovery;
		discovery.on('event', (event) => void this.plugin.sendNotification(DiscoveryEventNotification.type, event));
		discovery.on('warning', (error) => void this.plugin.sendNotification(LogNotification.type, { level: 'info', message: `discovery: ${error.message}` }));
		await discovery.ready;
		return discovery.servers;
	}

	async stop(): Promise<void> {
		const discovery = this.discovery;
		this.discovery = undefined;
		await discovery?.close();
	}
}
