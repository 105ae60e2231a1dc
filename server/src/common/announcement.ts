import { TXT_PATTERNS, Type, validate, type Static } from '@spyder-remote/protocol';

/**
 * What the daemon tells the responder to announce, as one JSON line on the
 * responder's stdin. The daemon writes it; the responder validates it anyway,
 * since it is the responder's only input besides the network.
 */
export const AnnouncementSchema = Type.Object(
	{
		instanceName: Type.String({ minLength: 1, maxLength: 63 }),
		port: Type.Integer({ minimum: 1, maximum: 65_535 }),
		/** The address the daemon is bound to: a wildcard (`0.0.0.0`, `::`) or one address. */
		listenAddress: Type.String({ minLength: 1, maxLength: 64 }),
		/** Interface names or addresses to announce on; unset means every non-internal interface. */
		interfaces: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { maxItems: 64 })),
		protocolVersion: Type.String({ pattern: TXT_PATTERNS.protovers.source }),
		serverVersion: Type.String({ pattern: TXT_PATTERNS.srvvers.source }),
		fingerprint: Type.String({ pattern: TXT_PATTERNS.fp.source }),
		authMethods: Type.Array(Type.String({ pattern: '^[A-Za-z]{1,32}$' }), { minItems: 1, maxItems: 8 }),
		os: Type.String({ pattern: TXT_PATTERNS.os.source }),
		logLevel: Type.String({ pattern: '^(fatal|error|warn|info|debug|trace)$' }),
	},
	{ additionalProperties: false },
);
export type Announcement = Static<typeof AnnouncementSchema>;

export function parseAnnouncement(line: string): Announcement {
	const value: unknown = JSON.parse(line);
	const problem = validate(AnnouncementSchema, value);
	if (problem) throw new Error(`bad announcement: ${problem}`);
	return value as Announcement;
}
