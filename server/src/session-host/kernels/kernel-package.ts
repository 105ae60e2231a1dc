import { ErrorCodes, type KernelKind } from '@spyder-remote/protocol';
import { ResponseError } from 'vscode-jsonrpc/node';
import { checkCompatibility, type ScannedEnvironment } from '../environments/scan.js';
import { parseVersionRange } from '../environments/version-range.js';

/** Refuses at once, naming environment, package and range, what would otherwise be a start-up timeout. */
export function requireKernelPackage(environment: ScannedEnvironment, kind: KernelKind, range: string | undefined): void {
	const where = `environment ${environment.name} (${environment.prefix})`;
	if (environment.broken) throw new ResponseError(ErrorCodes.KernelUnavailable, `${where} is broken: ${environment.broken}`);
	if (kind === 'ipykernel') {
		if (!environment.ipykernel) throw new ResponseError(ErrorCodes.KernelUnavailable, `${where} has no ipykernel; install it there first`);
		return;
	}
	if (!environment.spyderKernels) {
		throw new ResponseError(ErrorCodes.KernelUnavailable, `${where} has no spyder-kernels${range ? `; Spyder needs spyder-kernels ${range}` : ''}`);
	}
	if (range) {
		let compatibility;
		try {
			compatibility = checkCompatibility(parseVersionRange(range), environment.spyderKernels, undefined);
		} catch (error) {
			throw new ResponseError(ErrorCodes.InvalidParams, `spyderKernelsRange: ${(error as Error).message}`);
		}
		if (!compatibility.ok) throw new ResponseError(ErrorCodes.KernelUnavailable, `${where}: ${compatibility.reason}`);
	}
}
