import { Fingerprint, Type } from '@spyder-remote/protocol';
import { ProtocolNotificationType, ProtocolRequestType } from 'vscode-languageserver-protocol';
import { MessageDirection, type BridgeMessageMeta, type ReadonlyStatic } from './messages.js';

/** What a discovery announcement says, unauthenticated: for display, and for comparing with the certificate at connect time. */
export const DiscoveredServer = Type.Object({
	instanceName: Type.String({ description: 'e.g. `labserver` or `labserver (2)`' }),
	host: Type.String({ description: 'the SRV target' }),
	addresses: Type.Array(Type.String(), { description: 'IPv4 first, then IPv6' }),
	port: Type.Integer(),
	fingerprint: Fingerprint,
	pinned: Type.Boolean({ description: 'known_hosts already pins the announced fingerprint' }),
	serverVersion: Type.String(),
	protocolVersion: Type.String(),
	authMethods: Type.Array(Type.String(), { description: 'the login methods announced that this client knows' }),
	os: Type.String(),
});
export type DiscoveredServer = ReadonlyStatic<typeof DiscoveredServer>;

export const DiscoveryStartParams = Type.Object({
	interfaces: Type.Optional(Type.Array(Type.String(), { description: 'names or IPv4 addresses; default every IPv4 interface, loopback included' })),
});
export type DiscoveryStartParams = ReadonlyStatic<typeof DiscoveryStartParams>;
export const DiscoveryStartResult = Type.Object({ servers: Type.Array(DiscoveredServer, { description: 'those known so far' }) });
export type DiscoveryStartResult = ReadonlyStatic<typeof DiscoveryStartResult>;

/** (Re)starts browsing the local network for servers. */
export namespace DiscoveryStartRequest {
	export const method = 'discovery/start';
	export const messageDirection = MessageDirection.clientToServer;
	export const params = DiscoveryStartParams;
	export const result = DiscoveryStartResult;
	export const type = new ProtocolRequestType<DiscoveryStartParams, DiscoveryStartResult, never, void, void>(method);
	export const meta: BridgeMessageMeta = { errors: [], documentation: 'Later changes come as `discovery/event`.' };
}

/** Stops browsing. */
export namespace DiscoveryStopRequest {
	export const method = 'discovery/stop';
	export const messageDirection = MessageDirection.clientToServer;
	export const params = Type.Object({});
	export const result = Type.Null();
	export const type = new ProtocolRequestType<Record<string, never>, null, never, void, void>(method);
	export const meta: BridgeMessageMeta = { errors: [], documentation: 'Stopping twice is not an error.' };
}

export const DiscoveryEventType = Type.Union([Type.Literal('up'), Type.Literal('updated'), Type.Literal('down')]);
export const DiscoveryEventParams = Type.Object({ type: DiscoveryEventType, server: DiscoveredServer });
export type DiscoveryEventParams = ReadonlyStatic<typeof DiscoveryEventParams>;

/** A server appeared, changed its announcement, or went away. */
export namespace DiscoveryEventNotification {
	export const method = 'discovery/event';
	export const messageDirection = MessageDirection.serverToClient;
	export const params = DiscoveryEventParams;
	export const type = new ProtocolNotificationType<DiscoveryEventParams, void>(method);
	export const meta: BridgeMessageMeta = { errors: [], documentation: 'Sent between `discovery/start` and `discovery/stop`.' };
}
