import { readFile } from 'node:fs/promises';
import test from 'ava';
import { buildMetaModel, protocolMessages } from '@spyder-remote/protocol';
import { buildJsonSchema } from '../scripts/generate-meta-model.mjs';

const committed = async (file: string) => JSON.parse(await readFile(new URL(`../spec/${file}`, import.meta.url), 'utf8'));
const stem = (method: string) =>
	method
		.split('/')
		.map((part) => part[0]!.toUpperCase() + part.slice(1))
		.join('');

test('spec/metaModel.json is what protocol/ generates (run npm run generate)', async (t) => {
	t.deepEqual(await committed('metaModel.json'), JSON.parse(JSON.stringify(buildMetaModel())));
});

test('spec/schema.json is what protocol/ generates (run npm run generate)', async (t) => {
	t.deepEqual(await committed('schema.json'), JSON.parse(JSON.stringify(buildJsonSchema())));
});

test('spec/schema.json has every message, its params and its result, and every $ref resolves', async (t) => {
	const schema = await committed('schema.json');
	const definitions: Record<string, unknown> = schema.$defs;
	const metaModel = buildMetaModel() as {
		requests: { method: string; params?: unknown; result: unknown }[];
		notifications: { method: string; params?: unknown }[];
	};
	for (const message of protocolMessages) {
		const name = stem(message.method);
		t.truthy(definitions[`${name}${message.kind === 'request' ? 'Request' : 'Notification'}`], `${message.method} has no envelope`);
		if (message.params)
			t.deepEqual(
				definitions[`${name}Params`],
				[...metaModel.requests, ...metaModel.notifications].find((entry) => entry.method === message.method)!.params,
				`${message.method} params differ from the meta model`,
			);
		if (message.kind === 'request') t.deepEqual(definitions[`${name}Result`], metaModel.requests.find((entry) => entry.method === message.method)!.result);
	}
	const references: string[] = [];
	const walk = (value: unknown): void => {
		if (Array.isArray(value)) value.forEach(walk);
		else if (value && typeof value === 'object') {
			for (const [key, inner] of Object.entries(value)) {
				if (key === '$ref') references.push(inner as string);
				else walk(inner);
			}
		}
	};
	walk(schema);
	t.true(references.length > protocolMessages.length);
	for (const reference of references) t.truthy(definitions[reference.replace(/^#\/\$defs\//, '')], `${reference} does not resolve`);
});

test('every message is written up in spec/README.md', async (t) => {
	const spec = await readFile(new URL('../spec/README.md', import.meta.url), 'utf8');
	for (const message of protocolMessages) t.true(spec.includes(`\`${message.method}\``), `${message.method} is missing from the spec`);
});
