import { errorCodeNames } from './errors.js';
import { protocolMessages } from './registry.js';
import { PROTOCOL_VERSION } from './version.js';

/**
 * The whole protocol as data, in the spirit of LSP's metaModel.json: built
 * from the message definitions, never written by hand. TypeBox schemas are
 * JSON Schema already, so params and results are embedded as they are.
 */
export function buildMetaModel(): Record<string, unknown> {
	const plain = (value: unknown) => (value === undefined ? undefined : JSON.parse(JSON.stringify(value)));
	const describe = (message: (typeof protocolMessages)[number]) => ({
		method: message.method,
		messageDirection: message.messageDirection,
		since: message.meta.since,
		requiresLogin: message.meta.requiresLogin,
		params: plain(message.params),
		...(message.kind === 'request' ? { result: plain(message.result) } : {}),
		errorCodes: message.meta.errors.map((code) => ({ code, name: errorCodeNames.get(code) })),
		...(message.meta.progress ? { progress: true } : {}),
		...(message.meta.cancellable ? { cancellable: true } : {}),
		documentation: message.meta.documentation,
	});
	return {
		metaData: { version: PROTOCOL_VERSION },
		requests: protocolMessages.filter((message) => message.kind === 'request').map(describe),
		notifications: protocolMessages.filter((message) => message.kind === 'notification').map(describe),
		errorCodes: [...errorCodeNames].map(([code, name]) => ({ code, name })).sort((a, b) => a.code - b.code),
	};
}
