import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { errorCodeNames } from '@spyder-remote/protocol';
import { BRIDGE_ERROR_RANGE, bridgeErrorCodeNames, bridgeMessages } from 'spyder-remote-bridge';
import { buildPythonModule, buildReadme, pythonModule, readme } from '../scripts/generate-bridge-protocol.mjs';

const pluginDir = fileURLToPath(new URL('../spyder-bridge/python/spyder_remote/', import.meta.url));
const inRange = (code: number) => code >= BRIDGE_ERROR_RANGE.first && code <= BRIDGE_ERROR_RANGE.last;

/** The plugin's sources, but the generated module. */
async function pluginSources(): Promise<{ file: string; text: string }[]> {
	const files = (await readdir(pluginDir, { recursive: true })).filter((file) => file.endsWith('.py') && file !== 'bridge_protocol.py');
	return Promise.all(files.map(async (file) => ({ file, text: await readFile(join(pluginDir, file), 'utf8') })));
}

test('spyder_remote/bridge_protocol.py is what spyder-bridge/src/protocol/ generates (run npm run generate)', async (t) => {
	t.is(await readFile(pythonModule, 'utf8'), buildPythonModule());
});

test("the README's message and error tables are what spyder-bridge/src/protocol/ generates (run npm run generate)", async (t) => {
	const text = await readFile(readme, 'utf8');
	t.is(text, buildReadme(text));
});

test('the bridge codes are in their own range, which no public code enters, and every listed error is a known code', (t) => {
	t.true(bridgeErrorCodeNames.size > 0);
	for (const code of bridgeErrorCodeNames.keys())
		t.true(inRange(code), `bridge code ${code} is outside ${BRIDGE_ERROR_RANGE.first}-${BRIDGE_ERROR_RANGE.last}`);
	for (const code of errorCodeNames.keys()) t.false(inRange(code), `public code ${code} is in the bridge's range`);
	for (const message of bridgeMessages) {
		for (const code of message.meta.errors) t.true(bridgeErrorCodeNames.has(code) || errorCodeNames.has(code), `${message.method} lists unknown code ${code}`);
		t.is(new Set(message.meta.errors).size, message.meta.errors.length, `${message.method} lists a code twice`);
	}
	t.is(new Set(bridgeMessages.map((message) => message.method)).size, bridgeMessages.length, 'a method is defined twice');
});

test('the plugin names methods and error codes only through the generated constants', async (t) => {
	const methods = new Set(bridgeMessages.map((message) => message.method));
	const codes = new Set([...bridgeErrorCodeNames.keys(), ...[...errorCodeNames.keys()].filter((code) => code >= 1000)].map(String));
	for (const { file, text } of await pluginSources()) {
		for (const [, single, double] of text.matchAll(/'([^'\n]*)'|"([^"\n]*)"/g)) {
			const literal = single ?? double ?? '';
			t.false(methods.has(literal), `${file} spells out the method '${literal}'`);
		}
		for (const [number] of text.matchAll(/-?\b\d{4,5}\b/g)) t.false(codes.has(number), `${file} spells out the error code ${number}`);
	}
});
