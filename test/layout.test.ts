import test from 'ava';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

/**
 * The privilege boundary is the tree: code of one process never imports code
 * of another, so what runs as root is exactly what lies in daemon/ and
 * common/. bin/ (entry points) and index.ts (the library) sit on top.
 */
const source = resolve('server/src');
const mayImport: Record<string, readonly string[]> = {
	daemon: ['daemon', 'common'],
	'session-host': ['session-host', 'common'],
	responder: ['responder', 'common'],
	'node-agent': ['node-agent', 'common'],
	common: ['common'],
	// The installer runs as root, once, from the CLI: it uses the daemon's config, certificate and account helpers.
	install: ['install', 'common', 'daemon'],
};

function sourceFiles(directory: string): string[] {
	return readdirSync(directory, { withFileTypes: true }).flatMap((entry) => {
		const path = join(directory, entry.name);
		if (entry.isDirectory()) return sourceFiles(path);
		return entry.name.endsWith('.ts') ? [path] : [];
	});
}

const topFolder = (path: string) => relative(source, path).split('/')[0]!;

test('daemon/, session-host/ and responder/ import none of each other, and common/ imports none of them', (t) => {
	const crossings: string[] = [];
	for (const file of sourceFiles(source)) {
		const allowed = mayImport[topFolder(file)];
		if (!allowed) continue;
		for (const [, specifier] of readFileSync(file, 'utf8').matchAll(/(?:from|import)\s*\(?\s*'(\.[^']+)'/g)) {
			const target = resolve(dirname(file), specifier!);
			if (!allowed.includes(topFolder(target))) crossings.push(`${relative(source, file)} imports ${relative(source, target)}`);
		}
	}
	t.deepEqual(crossings, []);
});

test('every process entry point is in bin/, named after its process', (t) => {
	t.deepEqual(readdirSync(join(source, 'bin')).sort(), [
		'ssd-mdns-responder.ts',
		'ssd-node-agent.ts',
		'ssd-reaper.ts',
		'ssd-server.ts',
		'ssd-session-host.ts',
		'threadpool.ts',
	]);
	for (const folder of Object.keys(mayImport)) t.false(readdirSync(join(source, folder)).includes('main.ts'), `${folder}/ has no entry point of its own`);
});

test('only the ssd-server CLI imports install/, the root-only installer', (t) => {
	const importers: string[] = [];
	for (const file of sourceFiles(source)) {
		if (topFolder(file) === 'install') continue;
		for (const [, specifier] of readFileSync(file, 'utf8').matchAll(/(?:from|import)\s*\(?\s*'(\.[^']+)'/g)) {
			if (topFolder(resolve(dirname(file), specifier!)) === 'install') importers.push(relative(source, file));
		}
	}
	t.deepEqual([...new Set(importers)], ['bin/ssd-server.ts']);
});
