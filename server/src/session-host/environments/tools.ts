import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { CONDA_INSTALLATION_ROOTS, expandHome } from './locations.js';

export interface CondaTool {
	/** Executable path. */
	readonly path: string;
	readonly flavour: 'conda' | 'mamba' | 'micromamba';
}

const flavours = ['mamba', 'conda', 'micromamba'] as const;

async function isExecutable(path: string): Promise<boolean> {
	return access(path, constants.X_OK).then(
		() => true,
		() => false,
	);
}

/**
 * The host's conda-compatible tool: mamba before conda (same CLI, faster
 * solver), then micromamba; on PATH first, then in the usual roots. The
 * session host's PATH is the clean one setpriv gives, so users' shell init
 * does not decide this.
 */
export async function findCondaTool(home: string, path = process.env.PATH ?? ''): Promise<CondaTool | undefined> {
	const directories = [
		...path.split(':').filter(Boolean),
		...CONDA_INSTALLATION_ROOTS.map((root) => join(expandHome(root, home), 'bin')),
		join(home, '.local', 'bin'),
	];
	for (const flavour of flavours) {
		for (const directory of directories) {
			const candidate = join(directory, flavour);
			if (await isExecutable(candidate)) return { path: candidate, flavour };
		}
	}
	return undefined;
}

/** Arguments for one conda operation; `--json` keeps output machine-readable, `--yes` never prompts. */
export function condaArgs(operation: 'create' | 'install' | 'remove', prefix: string, specs: readonly string[], removeAll = false): string[] {
	return [operation, '--yes', '--json', '--prefix', prefix, ...(removeAll ? ['--all'] : []), ...(specs.length > 0 ? ['--', ...specs] : [])];
}

/**
 * conda --json ends with one JSON document: `{"success": true, …}` or
 * `{"error": …, "exception_name": …, "message": …}`. Progress objects before
 * it may be separated by NUL bytes. Returns the failure message, if any.
 */
export function condaFailure(output: string): string | undefined {
	const documents = output
		.split('\0')
		.map((part) => part.trim())
		.filter(Boolean);
	const last = documents.at(-1);
	if (!last) return 'conda printed nothing';
	try {
		const result = JSON.parse(last.slice(last.indexOf('{'))) as { success?: boolean; message?: string; error?: string; exception_name?: string };
		if (result.success === true) return undefined;
		return [result.exception_name, result.message ?? result.error].filter(Boolean).join(': ') || 'conda reported failure';
	} catch {
		return undefined;
	}
}
