/**
 * The VS Code side: the commands, and VS Code's pickers in front of core.mts.
 * VS Code loads an extension's entry point as CommonJS, and the client
 * library is ESM, so this file imports the core dynamically.
 */
import * as vscode from 'vscode';
import type { CommandId, OpenedKernel } from './core.mjs';

const opened: OpenedKernel[] = [];

export async function activate(context: vscode.ExtensionContext): Promise<void> {
	const core = await import('./core.mjs');
	const findServers = () => vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: 'Looking for spyder-remote servers' }, () => core.listServers());

	const handlers: Record<CommandId, () => Promise<void>> = {
		'spyderRemote.listServers': async () => {
			const servers = await findServers();
			if (servers.length === 0) {
				await vscode.window.showInformationMessage('No spyder-remote server announced itself, and the hosts file lists none.');
				return;
			}
			await vscode.window.showQuickPick(servers.map((server) => ({ label: server.label, detail: server.detail })), { title: 'spyder-remote servers' });
		},
		'spyderRemote.openKernel': async () => {
			const picked = await vscode.window.showQuickPick((await findServers()).map((server) => ({ label: server.label, detail: server.detail, server })), { title: 'Open a kernel on' });
			if (!picked) return;
			const user = await vscode.window.showInputBox({ prompt: `Your account on ${picked.label}`, value: process.env.USER ?? '' });
			if (!user) return;
			const kernel = await core.openKernel({
				server: picked.server,
				user,
				password: async () => vscode.window.showInputBox({ prompt: `Password of ${user} on ${picked.label}`, password: true }),
				trust: async (fingerprint) =>
					(await vscode.window.showWarningMessage(
						`${picked.label} presents the certificate ${fingerprint}. Compare it with what its administrator sees (ssd-server fingerprint). Trust it?`,
						{ modal: true },
						'Trust',
					)) === 'Trust',
				chooseEnvironment: async (environments) => {
					const choices = environments
						.filter((environment) => !environment.broken && (environment.spyderKernels || environment.ipykernel))
						.map((environment) => ({ label: environment.name, description: environment.prefix, detail: environment.spyderKernels ? `spyder-kernels ${environment.spyderKernels}` : 'ipykernel', environment }));
					return (await vscode.window.showQuickPick(choices, { title: 'Start the kernel in' }))?.environment;
				},
				onWarning: (message) => void vscode.window.showWarningMessage(message),
			});
			if (!kernel) return;
			opened.push(kernel);
			const action = await vscode.window.showInformationMessage(`Kernel ${kernel.kernel.id} runs in ${kernel.environment.name}. Jupyter connection file: ${kernel.connectionFile}`, 'Copy path');
			if (action) await vscode.env.clipboard.writeText(kernel.connectionFile);
		},
	};

	for (const { command } of core.commands) {
		const handler = handlers[command];
		context.subscriptions.push(vscode.commands.registerCommand(command, () => handler().catch((error: Error) => vscode.window.showErrorMessage(`Spyder Remote: ${error.message}`))));
	}
}

/** Kernels this extension started end with it; a real integration might leave them to the server's lease. */
export async function deactivate(): Promise<void> {
	await Promise.all(opened.splice(0).map((kernel) => kernel.close({ stopKernel: true })));
}
