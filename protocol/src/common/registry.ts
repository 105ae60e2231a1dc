import { validate } from './schema.js';
import { LoginChallengeRequest, PasswordLoginRequest, PublicKeyLoginRequest, RegisterKeyRequest } from './auth.js';
import { ExitNotification, InitializedNotification, InitializeRequest, ShutdownRequest } from './lifecycle.js';
import type { MessageDefinition, NotificationDefinition, RequestDefinition } from './messages.js';
import {
	EnvironmentCreateRequest,
	EnvironmentDidChangeNotification,
	EnvironmentInstallRequest,
	EnvironmentListRequest,
	EnvironmentPackagesRequest,
	EnvironmentRemoveRequest,
	EnvironmentUninstallRequest,
} from './environments.js';
import {
	KernelAttachRequest,
	KernelConnectRequest,
	KernelDidChangeStateNotification,
	KernelDidExitNotification,
	KernelInterruptRequest,
	KernelListRequest,
	KernelRestartRequest,
	KernelShutdownRequest,
	KernelStartRequest,
} from './kernels.js';
import { PingRequest, WhoamiRequest } from './session.js';
import { KernelDidChangeJobNotification, ServerCapabilitiesRequest } from './slurm.js';

const request = (definition: Omit<RequestDefinition, 'kind'>): RequestDefinition => ({ kind: 'request', ...definition });
const notification = (definition: Omit<NotificationDefinition, 'kind'>): NotificationDefinition => ({ kind: 'notification', ...definition });

/** Every message of the protocol, in spec order. The meta model and run-time validation both read this list. */
export const protocolMessages: readonly MessageDefinition[] = [
	request(InitializeRequest),
	notification(InitializedNotification),
	request(ShutdownRequest),
	notification(ExitNotification),
	request(PasswordLoginRequest),
	request(LoginChallengeRequest),
	request(PublicKeyLoginRequest),
	request(RegisterKeyRequest),
	request(WhoamiRequest),
	request(PingRequest),
	request(EnvironmentListRequest),
	notification(EnvironmentDidChangeNotification),
	request(EnvironmentCreateRequest),
	request(EnvironmentRemoveRequest),
	request(EnvironmentPackagesRequest),
	request(EnvironmentInstallRequest),
	request(EnvironmentUninstallRequest),
	request(KernelStartRequest),
	request(KernelListRequest),
	request(KernelInterruptRequest),
	request(KernelRestartRequest),
	request(KernelShutdownRequest),
	request(KernelAttachRequest),
	request(KernelConnectRequest),
	notification(KernelDidChangeStateNotification),
	notification(KernelDidExitNotification),
	notification(KernelDidChangeJobNotification),
	request(ServerCapabilitiesRequest),
];

export const messagesByMethod: ReadonlyMap<string, MessageDefinition> = new Map(protocolMessages.map((message) => [message.method, message]));

/**
 * Run-time check of incoming params against the message's schema. Returns a
 * message for an InvalidParams error, or undefined when the params conform.
 */
export function checkParams(definition: MessageDefinition, params: unknown): string | undefined {
	if (definition.params === undefined) {
		return params === undefined || params === null ? undefined : `${definition.method} takes no params`;
	}
	const problem = validate(definition.params, params);
	return problem && `invalid params for ${definition.method}: ${problem}`;
}
