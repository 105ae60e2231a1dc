import type { ParseArgsConfig } from 'node:util';
import type { RemoteSession } from '../session.js';

export class UsageError extends Error {
	override name = 'UsageError';
}

export type OptionSpec = NonNullable<ParseArgsConfig['options']>;

/** What every command gets: its parsed options and positionals, and ways to log in and print. */
export interface CommandContext {
	readonly values: Record<string, string | boolean | string[] | undefined>;
	/** Positionals after the command name (and after HOST[:PORT] for remote commands). */
	readonly args: readonly string[];
	readonly json: boolean;
	/** Logs in to HOST[:PORT] with the standard login flags. Only for commands with `remote: true`. */
	session(): Promise<RemoteSession>;
	/** Prints a line for people, or the value as one JSON line with --json. */
	print(human: string, json: unknown): void;
}

export interface Command {
	readonly name: string;
	/** One line for `ssd --help`. */
	readonly summary: string;
	/** The argument synopsis after `ssd NAME`. */
	readonly synopsis: string;
	/** Takes HOST[:PORT] as its first positional and the login options. */
	readonly remote: boolean;
	readonly options?: OptionSpec;
	run(context: CommandContext): Promise<number | void>;
}
