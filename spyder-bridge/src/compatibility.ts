import type { Environment, Kernel } from '@spyder-remote/protocol';
import type { EnvironmentView, KernelView } from './protocol/main.js';

/** `5.4.2` → `5.4`: Spyder's kernel requirements change with minor versions. */
function minorVersion(version: string): string {
	return version.split('.').slice(0, 2).join('.');
}

/** `>=2.4.0,<2.5.0` → `>=2.4,<2.5`: shorter in a sentence, the same versions. */
function shortRange(range: string): string {
	return range.replace(/\s+/g, '').replace(/(\d+\.\d+)\.0\b/g, '$1');
}

/**
 * Whether Spyder can open a console on the environment, with the reason in
 * Spyder's words when not. The server decides compatibility against the
 * range; the bridge only says it for this Spyder.
 */
export function environmentView(environment: Environment, spyderVersion: string, range: string): EnvironmentView {
	const needs = `Spyder ${minorVersion(spyderVersion)} needs ${shortRange(range)}`;
	if (environment.broken) return { ...environment, usable: false, reason: `broken: ${environment.broken}` };
	if (!environment.spyderKernels) return { ...environment, usable: false, reason: `spyder-kernels is not installed; ${needs}` };
	if (environment.compatible && !environment.compatible.ok)
		return { ...environment, usable: false, reason: `spyder-kernels ${environment.spyderKernels} found, ${needs}` };
	return { ...environment, usable: true };
}

/**
 * Whether Spyder can open a console on a running kernel: a Spyder kernel
 * whose environment Spyder can use (`environments`, as environmentView
 * judged them). The environment's spyder-kernels now is the one the kernel
 * imported, unless it was changed since the kernel started; then the kernel
 * is refused too, since Spyder's Restart would bring in the new one.
 */
export function kernelView(kernel: Kernel, environments: readonly EnvironmentView[], spyderVersion: string): KernelView {
	if (kernel.kind !== 'spyder')
		return { ...kernel, usable: false, reason: `not a Spyder kernel (started as ${kernel.kind}); Spyder ${minorVersion(spyderVersion)} needs spyder-kernels` };
	const environment = environments.find((candidate) => candidate.id === kernel.environment.id);
	if (!environment)
		return { ...kernel, usable: false, reason: `its environment ${kernel.environment.prefix} is no longer listed, so its spyder-kernels version is unknown` };
	if (!environment.usable) return { ...kernel, usable: false, reason: environment.reason ?? "its environment cannot run this Spyder's kernel" };
	return { ...kernel, usable: true };
}
