#!/usr/bin/env node
// Writes spec/metaModel.json and spec/schema.json from protocol/ (build first).
// test/meta-model.test.ts fails when either committed file is stale.
import { writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { buildMetaModel, errorCodeNames, PROTOCOL_VERSION, protocolMessages } from '@spyder-remote/protocol';

/** TypeBox schemas are JSON Schema plus symbol keys; a JSON round trip leaves the JSON Schema. */
const plain = (schema) => JSON.parse(JSON.stringify(schema));
const ref = (name) => ({ $ref: `#/$defs/${name}` });

/** `environment/didChange` → `EnvironmentDidChange`: the stem of the message's definitions. */
const stem = (method) =>
	method
		.split('/')
		.map((part) => part[0].toUpperCase() + part.slice(1))
		.join('');

/**
 * A JSON Schema (draft 2020-12) that any message on the wire validates
 * against: one definition per message envelope, its params and its result,
 * the error codes, and the two LSP conventions of spec section 2.4. A
 * response cannot be matched to its request's result by a schema, so a
 * `Response` carries any result; the `…Result` definitions say what each
 * request's result is.
 */
export function buildJsonSchema() {
	const $defs = {
		RequestId: { description: 'A request id: a number or a string (2.3).', type: ['number', 'string'] },
		ErrorCode: {
			description: 'Every code a peer may send (2.5). A client treats a code it does not know as a plain failure of the request.',
			oneOf: [...errorCodeNames].sort(([a], [b]) => a - b).map(([code, name]) => ({ const: code, title: name })),
		},
		ResponseError: {
			type: 'object',
			required: ['code', 'message'],
			properties: {
				code: { type: 'integer', description: 'See ErrorCode.' },
				message: { type: 'string', description: 'For people; clients decide on the code.' },
				data: {},
			},
		},
		Response: {
			description: 'The answer to a request: exactly one of result and error. The id is null only for ParseError and InvalidRequest (2.2).',
			type: 'object',
			required: ['jsonrpc', 'id'],
			properties: { jsonrpc: { const: '2.0' }, id: { anyOf: [ref('RequestId'), { type: 'null' }] }, result: {}, error: ref('ResponseError') },
			oneOf: [
				{ required: ['result'], not: { required: ['error'] } },
				{ required: ['error'], not: { required: ['result'] } },
			],
		},
		ProgressToken: { description: 'A workDoneToken: an integer or a string (2.4).', anyOf: [{ type: 'integer' }, { type: 'string', maxLength: 256 }] },
		ProgressNotification: {
			description: 'LSP `$/progress` (server to client, 2.4): work-done progress for the request whose params carried the token.',
			...notification('$/progress', ref('ProgressParams')),
		},
		ProgressParams: {
			type: 'object',
			required: ['token', 'value'],
			properties: {
				token: ref('ProgressToken'),
				value: {
					oneOf: [
						{
							type: 'object',
							required: ['kind', 'title'],
							properties: {
								kind: { const: 'begin' },
								title: { type: 'string' },
								cancellable: { type: 'boolean' },
								message: { type: 'string' },
								percentage: { type: 'number' },
							},
						},
						{
							type: 'object',
							required: ['kind'],
							properties: { kind: { const: 'report' }, cancellable: { type: 'boolean' }, message: { type: 'string' }, percentage: { type: 'number' } },
						},
						{ type: 'object', required: ['kind'], properties: { kind: { const: 'end' }, message: { type: 'string' } } },
					],
				},
			},
		},
		CancelRequestNotification: {
			description: 'LSP `$/cancelRequest` (client to server, 2.4): asks the server to stop the request with that id.',
			...notification('$/cancelRequest', ref('CancelParams')),
		},
		CancelParams: { type: 'object', required: ['id'], properties: { id: ref('RequestId') } },
	};
	const fromClient = [ref('CancelRequestNotification')];
	const fromServer = [ref('Response'), ref('ProgressNotification')];
	for (const message of protocolMessages) {
		const name = stem(message.method);
		if (message.params) $defs[`${name}Params`] = plain(message.params);
		if (message.kind === 'request') $defs[`${name}Result`] = plain(message.result);
		const envelope = `${name}${message.kind === 'request' ? 'Request' : 'Notification'}`;
		const params = message.params ? ref(`${name}Params`) : undefined;
		$defs[envelope] = {
			description: message.meta.documentation,
			...(message.kind === 'request' ? request(message.method, params) : notification(message.method, params)),
		};
		(message.messageDirection === 'serverToClient' ? fromServer : fromClient).push(ref(envelope));
	}
	$defs.ClientMessage = { description: 'Anything a client sends. The server sends no requests, so a client sends no responses.', anyOf: fromClient };
	$defs.ServerMessage = { description: 'Anything a server sends.', anyOf: fromServer };
	return {
		$schema: 'https://json-schema.org/draft/2020-12/schema',
		title: `spyder-remote protocol ${PROTOCOL_VERSION}`,
		description: 'One JSON-RPC message of the spyder-remote protocol (spec/README.md). Generated from protocol/ by scripts/generate-meta-model.mjs.',
		anyOf: [ref('ClientMessage'), ref('ServerMessage')],
		$defs,
	};
}

/** A request without params leaves the member out or sends null (2.3). */
function request(method, params) {
	return {
		type: 'object',
		required: ['jsonrpc', 'id', 'method', ...(params ? ['params'] : [])],
		properties: { jsonrpc: { const: '2.0' }, id: ref('RequestId'), method: { const: method }, params: params ?? { type: 'null' } },
	};
}

function notification(method, params) {
	return {
		type: 'object',
		required: ['jsonrpc', 'method', ...(params ? ['params'] : [])],
		properties: { jsonrpc: { const: '2.0' }, method: { const: method }, params: params ?? { type: 'null' } },
	};
}

const write = (file, value) => writeFileSync(new URL(`../spec/${file}`, import.meta.url), `${JSON.stringify(value, null, '\t')}\n`);

// Imported by the staleness test, run to regenerate.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
	write('metaModel.json', buildMetaModel());
	write('schema.json', buildJsonSchema());
}
