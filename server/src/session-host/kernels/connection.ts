import { join } from 'node:path';
import type { KernelKind } from '@spyder-remote/protocol';
import type { ConnectionInfo } from './kernel-client.js';

/** Channel → port number in the connection file; with ipc transport the socket is `<ip>-<port>`. */
export const channelPorts = { shell: 1, iopub: 2, stdin: 3, control: 4, hb: 5 } as const;

export type KernelConnection = ConnectionInfo & { readonly kernel_name: string };

/** The connection file's content for a kernel in `directory` (spec 6.12.2 step 5): everything but the key follows from the directory and kind. */
export function kernelConnection(directory: string, kind: KernelKind, key: string): KernelConnection {
	return {
		transport: 'ipc',
		ip: join(directory, 'kernel'),
		shell_port: channelPorts.shell,
		iopub_port: channelPorts.iopub,
		stdin_port: channelPorts.stdin,
		control_port: channelPorts.control,
		hb_port: channelPorts.hb,
		key,
		signature_scheme: 'hmac-sha256',
		kernel_name: kind === 'spyder' ? 'spyder-kernel' : 'python3',
	};
}
