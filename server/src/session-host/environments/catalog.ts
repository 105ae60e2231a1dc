import { watch, type FSWatcher } from 'node:fs';
import { dirname, join } from 'node:path';
import type { EnvironmentSettings } from '../../common/host-wire.js';
import type { Logger } from '../../common/log.js';
import { CONDA_ROOT_NAMES_IN_HOME, expandHome } from './locations.js';
import { scanEnvironments, type ScannedEnvironment } from './scan.js';

export interface CatalogChange {
	readonly added: readonly ScannedEnvironment[];
	readonly changed: readonly ScannedEnvironment[];
	readonly removed: readonly string[];
}

/** Changes come in bursts (pip writes many files): one rescan per burst. */
const settleMs = 150;
/** inotify watches are a per-user kernel resource; stay well below the default limit. */
const maxWatchedDirectories = 4000;

/**
 * The user's environments, cached and kept current: discovery runs once,
 * then again only when a watched directory changes (an environment made or
 * removed, environments.txt rewritten, a package installed), and listeners
 * hear what changed.
 */
export class EnvironmentCatalog {
	private current: Promise<ScannedEnvironment[]> | undefined;
	private readonly watchers = new Map<string, FSWatcher>();
	private readonly listeners = new Set<(change: CatalogChange) => void>();
	private rescanTimer: NodeJS.Timeout | undefined;

	constructor(
		private readonly settings: EnvironmentSettings,
		readonly home: string,
		private readonly logger: Logger,
	) {}

	list(refresh = false): Promise<ScannedEnvironment[]> {
		if (refresh || !this.current) this.current = this.rescan(this.current);
		return this.current;
	}

	async find(id: string): Promise<ScannedEnvironment | undefined> {
		return (await this.list()).find((environment) => environment.id === id);
	}

	onChange(listener: (change: CatalogChange) => void): () => void {
		this.listeners.add(listener);
		return () => this.listeners.delete(listener);
	}

	/** Rescans now and tells listeners; for callers that just changed something and want the result at once. */
	async refresh(): Promise<ScannedEnvironment[]> {
		return this.list(true);
	}

	close(): void {
		clearTimeout(this.rescanTimer);
		for (const watcher of this.watchers.values()) watcher.close();
		this.watchers.clear();
	}

	private async rescan(previous: Promise<ScannedEnvironment[]> | undefined): Promise<ScannedEnvironment[]> {
		const before = previous ? await previous.catch(() => []) : undefined;
		const expand = (paths: readonly string[]) => paths.map((path) => expandHome(path, this.home));
		const environments = await scanEnvironments({
			home: this.home,
			venvRoots: expand(this.settings.venvRoots),
			extraPaths: expand(this.settings.extraPaths),
			systemInterpreters: this.settings.systemInterpreters,
		});
		this.watch(environments);
		if (before) this.announce(before, environments);
		return environments;
	}

	private announce(before: readonly ScannedEnvironment[], after: readonly ScannedEnvironment[]): void {
		const old = new Map(before.map((environment) => [environment.id, JSON.stringify(environment)]));
		const now = new Set(after.map((environment) => environment.id));
		const change: CatalogChange = {
			added: after.filter((environment) => !old.has(environment.id)),
			changed: after.filter((environment) => old.has(environment.id) && old.get(environment.id) !== JSON.stringify(environment)),
			removed: before.filter((environment) => !now.has(environment.id)).map((environment) => environment.id),
		};
		if (change.added.length + change.changed.length + change.removed.length === 0) return;
		for (const listener of this.listeners) listener(change);
	}

	/**
	 * What can change the list: the roots environments live in, each prefix,
	 * and where its packages are. In the home directory itself only the names
	 * that matter count, or every saved file would cost a rescan.
	 */
	private directoriesToWatch(environments: readonly ScannedEnvironment[]): Map<string, ReadonlySet<string> | undefined> {
		const homeNames = new Set(['.conda', '.condarc', '.config', '.pyenv', '.local', ...CONDA_ROOT_NAMES_IN_HOME]);
		const directories = new Map<string, ReadonlySet<string> | undefined>([
			[join(this.home, '.conda'), undefined],
			[join(this.home, '.conda', 'envs'), undefined],
		]);
		for (const root of this.settings.venvRoots.map((path) => expandHome(path, this.home))) {
			directories.set(root, undefined);
			if (dirname(root) === this.home) homeNames.add(root.slice(this.home.length + 1));
		}
		for (const environment of environments) {
			if (environment.kind === 'system') continue;
			directories.set(environment.prefix, undefined);
			if (dirname(environment.prefix) !== this.home) directories.set(dirname(environment.prefix), undefined);
			for (const source of environment.packageSources) directories.set(source, undefined);
		}
		directories.set(this.home, homeNames);
		return directories;
	}

	private watch(environments: readonly ScannedEnvironment[]): void {
		const wanted = this.directoriesToWatch(environments);
		for (const [directory, watcher] of this.watchers) {
			if (!wanted.has(directory)) {
				watcher.close();
				this.watchers.delete(directory);
			}
		}
		for (const [directory, names] of wanted) {
			if (this.watchers.has(directory) || this.watchers.size >= maxWatchedDirectories) continue;
			try {
				const watcher = watch(directory, { persistent: false }, (_event, name) => {
					if (!names || (name !== null && names.has(name))) this.scheduleRescan();
				});
				watcher.on('error', () => {
					watcher.close();
					this.watchers.delete(directory);
				});
				this.watchers.set(directory, watcher);
			} catch {
				// Not there (yet): its parent is watched, so its creation triggers a rescan that watches it.
			}
		}
	}

	private scheduleRescan(): void {
		clearTimeout(this.rescanTimer);
		this.rescanTimer = setTimeout(() => {
			this.list(true).catch((error: Error) => this.logger.warn({ err: error.message }, 'environment rescan failed'));
		}, settleMs);
	}
}
