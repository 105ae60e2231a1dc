#!/usr/bin/env node
// Writes the Spyder plugin's constants (spyder-bridge/python/spyder_remote/bridge_protocol.py)
// and the message tables of spyder-bridge/README.md from the bridge protocol's definitions in
// spyder-bridge/src/protocol/ (build first). test/bridge-protocol.test.ts fails when either is stale.
import { readFileSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import {
	DEFAULT_PORT,
	Environment,
	EnvironmentId,
	errorCodeNames,
	Fingerprint,
	InstalledPackage,
	Kernel,
	KernelId,
	KernelState,
	WhoamiResult,
} from '@spyder-remote/protocol';
import {
	BRIDGE_ERROR_RANGE,
	BRIDGE_VERSION,
	bridgeErrorCodeNames,
	bridgeErrorDocumentation,
	bridgeMessages,
	DiscoveryEventType,
	DiscoveredServer,
	EnvironmentCreateParams,
	EnvironmentView,
	KernelView,
	LogParams,
	OpenedKernel,
	SessionHandle,
	SessionInfo,
	SessionLoginResult,
} from 'spyder-remote-bridge';

export const pythonModule = new URL('../spyder-bridge/python/spyder_remote/bridge_protocol.py', import.meta.url);
export const readme = new URL('../spyder-bridge/README.md', import.meta.url);

/** `session/saveKey` → `SESSION_SAVE_KEY`, `AuthenticationFailed` → `AUTHENTICATION_FAILED`, `publicKey` → `PUBLIC_KEY`. */
const constantName = (text) =>
	text
		.replace(/([a-z0-9])([A-Z])/g, '$1_$2')
		.split(/[^A-Za-z0-9]+/)
		.filter(Boolean)
		.join('_')
		.toUpperCase();

/** The values of a union of literals, e.g. `'venv' | 'conda'`. */
const literals = (schema) => schema.anyOf.map((member) => member.const);

const pythonString = (value) => `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

function pythonClass(name, documentation, entries) {
	return [`class ${name}:`, `    """${documentation}"""`, '', ...entries.map(([key, value]) => `    ${key} = ${value}`)].join('\n');
}

/** The values the plugin sends or compares with, each as a class of constants. */
const vocabularies = [
	['AuthMethod', '`method` of a `session/login` result: how the login went.', literals(SessionLoginResult.properties.method)],
	['DiscoveryEventType', '`type` of `discovery/event`.', literals(DiscoveryEventType)],
	['LogLevel', '`level` of `log`.', literals(LogParams.properties.level)],
	['EnvironmentKind', '`kind` of `environment/create`: the kinds the plugin can create.', literals(EnvironmentCreateParams.properties.kind)],
];

export function buildPythonModule() {
	const methods = bridgeMessages.map((message) => message.method);
	const codes = [...errorCodeNames, ...bridgeErrorCodeNames].sort(([a], [b]) => a - b);
	const names = codes.map(([, name]) => constantName(name));
	if (new Set(names).size !== names.length) throw new Error(`two error codes share a name: ${names.join(', ')}`);
	const sections = [
		[
			'"""',
			"The bridge protocol's fixed vocabulary, for the plugin: method names, error",
			'codes and the values the plugin sends or compares with.',
			'',
			'Generated from spyder-bridge/src/protocol/ by scripts/generate-bridge-protocol.mjs',
			'(npm run generate): do not edit. test/bridge-protocol.test.ts fails when it is stale.',
			'"""',
		].join('\n'),
		`BRIDGE_VERSION = ${pythonString(BRIDGE_VERSION)}\n# The port servers listen on when none is given.\nDEFAULT_PORT = ${DEFAULT_PORT}`,
		pythonClass(
			'Method',
			"Every message's method: requests and notifications, both ways.",
			methods.map((method) => [constantName(method), pythonString(method)]),
		),
		pythonClass(
			'ErrorCode',
			"JSON-RPC's and LSP's codes, the server's (1000-1999, passed through by the bridge) and the bridge's own.",
			codes.map(([code, name]) => [constantName(name), String(code)]),
		),
		`# The bridge's own codes: a range the public protocol never uses.\nBRIDGE_ERROR_CODES = range(${BRIDGE_ERROR_RANGE.first}, ${BRIDGE_ERROR_RANGE.last + 1})`,
		...vocabularies.map(([name, documentation, values]) =>
			pythonClass(
				name,
				documentation,
				values.map((value) => [constantName(value), pythonString(value)]),
			),
		),
	];
	return `${sections.join('\n\n\n')}\n`;
}

/**
 * Schemas the tables name instead of spelling out: the public protocol's
 * (spec/README.md), and the bridge's own that recur. The bridge's are spelt
 * out once, where they are a result.
 */
const named = [
	['SessionInfo', SessionInfo, true],
	['OpenedKernel', OpenedKernel, true],
	['EnvironmentView', EnvironmentView, false],
	['KernelView', KernelView, false],
	['DiscoveredServer', DiscoveredServer, false],
	['SessionHandle', SessionHandle, false],
	['Environment', Environment, false],
	['EnvironmentId', EnvironmentId, false],
	['InstalledPackage', InstalledPackage, false],
	['Kernel', Kernel, false],
	['KernelId', KernelId, false],
	['KernelState', KernelState, false],
	['WhoamiResult', WhoamiResult, false],
	['Fingerprint', Fingerprint, false],
].map(([name, schema, expand]) => ({ name, json: JSON.stringify(schema), expand }));
const nameOf = (schema) => named.find((entry) => entry.json === JSON.stringify(schema));

const isLiterals = (schema) => schema.anyOf?.every((member) => member.const !== undefined);
const orList = (values) =>
	values
		.map((value) => `\`${value}\``)
		.join(', ')
		.replace(/, ([^,]*)$/, ' or $1');

/** A member's type in a cell, when it has a name or a few values: `Kernel`, `SessionInfo[]`, `venv` or `conda`. */
function typeName(schema) {
	const entry = nameOf(schema);
	if (entry) return `\`${entry.name}\``;
	if (isLiterals(schema)) return orList(literals(schema));
	if (schema.type !== 'array') return undefined;
	if (isLiterals(schema.items)) return `each ${orList(literals(schema.items))}`;
	const items = nameOf(schema.items);
	return items ? `\`${items.name}[]\`` : undefined;
}

/** A schema as a table cell: its members, each with `?` when optional and what it is. */
function describe(schema) {
	if (schema.type === 'null') return '`null`';
	const entry = nameOf(schema);
	if (entry && !entry.expand) return `\`${entry.name}\``;
	const required = new Set(schema.required ?? []);
	const members = Object.entries(schema.properties).map(([name, member]) => {
		const what = typeName(member) ?? member.description;
		return `\`${name}${required.has(name) ? '' : '?'}\`${what ? ` (${what})` : ''}`;
	});
	return `${entry ? `\`${entry.name}\`: ` : ''}${members.join(', ')}`;
}

const errorName = (code) => bridgeErrorCodeNames.get(code) ?? errorCodeNames.get(code) ?? String(code);
const notes = (message) =>
	[
		message.meta.documentation,
		message.meta.progress ? 'Reports `operation/progress` when given an `operation`.' : '',
		message.meta.cancellable ? 'Cancellable.' : '',
	]
		.filter(Boolean)
		.join(' ');
const row = (cells) => `| ${cells.map((cell) => cell.replace(/\|/g, '\\|')).join(' | ')} |`;

/** The README's generated tables, by the name of their markers. */
export function buildReadmeTables() {
	const requests = (direction) => [
		row(['method', 'params', 'result', 'errors', 'notes']),
		row(['---', '---', '---', '---', '---']),
		...bridgeMessages
			.filter((message) => message.kind === 'request' && message.messageDirection === direction)
			.map((message) =>
				row([`\`${message.method}\``, describe(message.params), describe(message.result), message.meta.errors.map(errorName).join(', '), notes(message)]),
			),
	];
	const notifications = (direction) => [
		row(['method', 'params', 'notes']),
		row(['---', '---', '---']),
		...bridgeMessages
			.filter((message) => message.kind === 'notification' && message.messageDirection === direction)
			.map((message) => row([`\`${message.method}\``, describe(message.params), notes(message)])),
	];
	return {
		'plugin requests': requests('clientToServer'),
		'bridge requests': requests('serverToClient'),
		'plugin notifications': notifications('clientToServer'),
		'bridge notifications': notifications('serverToClient'),
		errors: [
			row(['code', 'name', 'meaning']),
			row(['---', '---', '---']),
			...[...bridgeErrorCodeNames].map(([code, name]) => row([String(code), name, bridgeErrorDocumentation[name]])),
		],
	};
}

const begin = (name) => `<!-- generated by scripts/generate-bridge-protocol.mjs: ${name} -->`;
const end = (name) => `<!-- end of ${name} -->`;

/** The README with its generated tables replaced by what the definitions say now. */
export function buildReadme(text) {
	for (const [name, lines] of Object.entries(buildReadmeTables())) {
		const from = text.indexOf(begin(name));
		const to = text.indexOf(end(name));
		if (from < 0 || to < from) throw new Error(`spyder-bridge/README.md has no markers for ${name}`);
		text = `${text.slice(0, from)}${begin(name)}\n${lines.join('\n')}\n${text.slice(to)}`;
	}
	return text;
}

// Imported by the staleness test, run to regenerate.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
	writeFileSync(pythonModule, buildPythonModule());
	writeFileSync(readme, buildReadme(readFileSync(readme, 'utf8')));
}
