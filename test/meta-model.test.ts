import { readFile } from 'node:fs/promises';
import test from 'ava';
import { buildMetaModel, protocolMessages } from '@spyder-remote/protocol';

test('spec/metaModel.json is what protocol/ generates (run scripts/generate-meta-model.mjs)', async (t) => {
	const committed = JSON.parse(await readFile(new URL('../spec/metaModel.json', import.meta.url), 'utf8'));
	t.deepEqual(committed, JSON.parse(JSON.stringify(buildMetaModel())));
});

test('every message is written up in spec/README.md', async (t) => {
	const spec = await readFile(new URL('../spec/README.md', import.meta.url), 'utf8');
	for (const message of protocolMessages) t.true(spec.includes(`\`${message.method}\``), `${message.method} is missing from the spec`);
});
