import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import test from 'ava';
import ts from 'typescript';

// Benches run through tsx, which strips types without checking them, and no test runs them:
// a syntax error there would otherwise only show the next time someone measures.
test('every bench script parses', async (t) => {
	const files = [];
	for (const directory of ['bench', 'bench/helpers']) {
		for (const name of await readdir(directory)) if (/\.(ts|mjs)$/.test(name)) files.push(join(directory, name));
	}
	t.true(files.length >= 8, files.join(', '));
	for (const file of files) {
		const output = ts.transpileModule(await readFile(file, 'utf8'), {
			fileName: file,
			reportDiagnostics: true,
			compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, allowJs: true },
		});
		const problems = (output.diagnostics ?? []).map((diagnostic) => `${file}: ${ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n')}`);
		t.deepEqual(problems, [], file);
	}
});
