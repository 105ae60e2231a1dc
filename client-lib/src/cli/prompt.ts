import { createInterface } from 'node:readline';

/** The first line of standard input, for --password-stdin. */
export async function readPasswordFromStdin(): Promise<string | undefined> {
	const lines = createInterface({ input: process.stdin });
	for await (const line of lines) {
		lines.close();
		return line;
	}
	return undefined;
}

/** Reads a line from the terminal without echoing it. */
export function promptHidden(question: string): Promise<string> {
	return new Promise((resolve, reject) => {
		const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
		const internals = rl as unknown as { _writeToOutput: (text: string) => void };
		const write = internals._writeToOutput.bind(rl);
		let muted = false;
		internals._writeToOutput = (text) => {
			if (!muted) write(text);
		};
		rl.question(question, (answer) => {
			rl.close();
			process.stderr.write('\n');
			resolve(answer);
		});
		muted = true;
		rl.on('SIGINT', () => reject(new Error('interrupted')));
	});
}

export function promptYesNo(question: string): Promise<boolean> {
	return new Promise((resolve) => {
		const rl = createInterface({ input: process.stdin, output: process.stderr });
		rl.question(question, (answer) => {
			rl.close();
			resolve(/^y(es)?$/i.test(answer.trim()));
		});
	});
}
