// `npm run bench`: runs every bench script (bench/*.ts, top level only;
// bench/helpers/ holds their child processes and shared modules) with
// `node --import=tsx`, one after the other, and prints one JSON object keyed
// by bench name. Progress goes to stderr. Exits 1 only when a bench crashed
// or printed no JSON; missed performance targets are reported in the JSON,
// not as a failure.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const benchDir = dirname(fileURLToPath(import.meta.url));
const root = dirname(benchDir);

const built = ['protocol/dist/node/main.js', 'server/dist/index.js', 'client-lib/dist/main.js'];
const missing = built.filter((file) => !existsSync(join(root, file)));
if (missing.length > 0) {
	process.stderr.write(`bench: build first (npx tsc -b); missing ${missing.join(', ')}\n`);
	process.exit(1);
}

const only = process.argv.slice(2);
const scripts = readdirSync(benchDir)
	.filter((name) => name.endsWith('.ts') && !name.endsWith('.d.ts'))
	.filter((name) => only.length === 0 || only.includes(basename(name, '.ts')))
	.sort();

function run(script) {
	return new Promise((resolve) => {
		const child = spawn(process.execPath, ['--import=tsx', join(benchDir, script)], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
		let stdout = '';
		child.stdout.setEncoding('utf8');
		child.stdout.on('data', (chunk) => (stdout += chunk));
		child.on('close', (code, signal) => resolve({ code, signal, stdout }));
	});
}

const results = {};
let failed = false;
for (const script of scripts) {
	const name = basename(script, '.ts');
	process.stderr.write(`bench: running ${script}\n`);
	const { code, signal, stdout } = await run(script);
	try {
		results[name] = JSON.parse(stdout);
	} catch {
		results[name] = { ok: false, error: `no JSON on stdout (exit ${signal ?? code})`, stdout: stdout.slice(0, 2000) };
	}
	if (code !== 0 || results[name].ok === false) failed = true;
}
process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
process.exit(failed ? 1 : 0);
