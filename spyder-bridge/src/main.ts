import type { Readable, Writable } from 'node:stream';
import { BoundedMessageReader, FrameMessageWriter } from '@spyder-remote/protocol/node';
import { createMessageConnection } from 'vscode-jsonrpc/node';
import { Bridge } from './bridge.js';

export * from './protocol/main.js';
export { environmentView } from './compatibility.js';

/**
 * Serves one plugin over a pair of streams (the process's stdin and stdout)
 * until the input ends or the plugin asks for `shutdown`. Resolves once the
 * kernels are detached and the sessions closed.
 */
export function runBridge(input: Readable, output: Writable): Promise<void> {
	const connection = createMessageConnection(new BoundedMessageReader(input), new FrameMessageWriter(output));
	return new Promise((resolve) => {
		const bridge = new Bridge(connection, () => {
			connection.dispose();
			resolve();
		});
		// The bridge outlives nothing: the end of its input is the plugin (or Spyder) going away.
		const leave = () => void bridge.exit();
		input.once('end', leave);
		input.once('close', leave);
		connection.onClose(leave);
		connection.listen();
	});
}
