import {
	KernelAttachRequest,
	KernelConnectRequest,
	KernelInterruptRequest,
	KernelListRequest,
	KernelRestartRequest,
	KernelShutdownRequest,
	KernelStartRequest,
	type KernelConnectParams,
	type KernelIdParams,
	type KernelStartParams,
} from '@spyder-remote/protocol';
import type { Handler } from '../session.js';

export const kernelHandlers: [string, Handler][] = [
	[KernelStartRequest.method, async (params: KernelStartParams, { session }) => ({ kernel: await session.services.kernels.start(params) })],
	[KernelListRequest.method, (_params, { session }) => ({ kernels: session.services.kernels.list() })],
	[KernelAttachRequest.method, (params: KernelIdParams, { session }) => ({ kernel: session.services.kernels.find(params.id) })],
	[
		KernelInterruptRequest.method,
		async (params: KernelIdParams, { session }) => {
			await session.services.kernels.interrupt(params.id);
			return null;
		},
	],
	[KernelRestartRequest.method, async (params: KernelIdParams, { session }) => ({ kernel: await session.services.kernels.restart(params.id) })],
	[
		KernelShutdownRequest.method,
		async (params: KernelIdParams, { session }) => {
			await session.services.kernels.shutdown(params.id);
			return null;
		},
	],
	[
		KernelConnectRequest.method,
		(params: KernelConnectParams, { session }) => {
			// Resolving the path first turns a closed channel (no comm port yet) or an unknown kernel into an error now, not a dead tunnel later.
			session.services.kernels.channelPath(params.id, params.channel);
			return session.services.tunnels.issue(params.id, params.channel);
		},
	],
];
