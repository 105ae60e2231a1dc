import { stat } from 'node:fs/promises';
import { spawnChild } from '../common/child-process.js';
import { InstallError } from './install-error.js';
import { SERVICE_NAME } from './locations.js';

/** Runs systemctl with arguments (never a shell); fails with its output when `check` and it fails. */
export async function systemctl(args: readonly string[], check = true): Promise<{ exitCode: number; stdout: string }> {
	const result = await spawnChild('systemctl', args, { reject: false, all: true });
	if (check && result.exitCode !== 0) throw new InstallError(`systemctl ${args.join(' ')} failed (exit ${result.exitCode}): ${String(result.all).trim()}`);
	return { exitCode: result.exitCode ?? 1, stdout: String(result.stdout).trim() };
}

/** The installer needs a running systemd: /run/systemd/system exists only then (sd_booted(3)). */
export async function requireSystemd(): Promise<void> {
	if (!(await stat('/run/systemd/system').catch(() => undefined))?.isDirectory())
		throw new InstallError(
			'systemd is not running here (no /run/systemd/system): ssd-server install sets up a systemd service; run `ssd-server start` under your own supervisor instead',
		);
}

/** `active`, `inactive`, `failed`, … as systemctl says it. */
export async function serviceState(): Promise<string> {
	return (await systemctl(['is-active', SERVICE_NAME], false)).stdout || 'unknown';
}
