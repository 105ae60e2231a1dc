/**
 * One folder into one archive, with the folder as its single top entry: tar.gz for Linux and
 * macOS (modes kept, owner root), zip for Windows. The system's tar and Info-ZIP zip, run
 * without a shell.
 */
import { execFile } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** @param {string} folder @param {string} file @param {'tar.gz' | 'zip'} format */
export async function createArchive(folder, file, format) {
	await rm(file, { force: true });
	if (format === 'zip') {
		// -X: no extra timestamps or uid fields, so that the same tree gives the same bytes.
		await run('zip', ['-r', '-q', '-X', file, basename(folder)], { cwd: dirname(folder) });
	} else {
		await run('tar', [
			'--create',
			'--gzip',
			'--file',
			file,
			'--sort=name',
			'--owner=0',
			'--group=0',
			'--numeric-owner',
			'-C',
			dirname(folder),
			basename(folder),
		]);
	}
}
