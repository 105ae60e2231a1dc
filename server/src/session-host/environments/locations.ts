/**
 * Where Python environments live by convention: conda's installation roots
 * and search-path files, the usual venv roots. Scanning reads these, the
 * catalog watches them, and the conda tool is looked for in them.
 */
import { join } from 'node:path';

/** conda, mamba and micromamba installation roots, as their installers make them. */
export const CONDA_INSTALLATION_ROOTS = ['~/miniforge3', '~/mambaforge', '~/miniconda3', '~/anaconda3', '/opt/conda', '~/micromamba', '~/.local/share/mamba'];
/** The user-level files of conda's search path; an installation root's own .condarc is added per root. */
export const CONDARC_FILES = ['~/.condarc', '~/.config/conda/.condarc', '~/.config/conda/condarc', '~/.conda/.condarc', '~/.conda/condarc'];
export const DEFAULT_VENV_ROOTS = ['~/.virtualenvs', '~/venvs', '~/.venvs'];
export const DEFAULT_SYSTEM_INTERPRETERS = ['/usr/bin/python3'];

/** The installation roots that are a name directly in the home directory (`~/miniforge3`, not `~/.local/share/mamba`). */
export const CONDA_ROOT_NAMES_IN_HOME = CONDA_INSTALLATION_ROOTS.filter((root) => /^~\/[^/]+$/.test(root)).map((root) => root.slice(2));

export function expandHome(path: string, home: string): string {
	if (path === '~') return home;
	return path.startsWith('~/') ? join(home, path.slice(2)) : path;
}
