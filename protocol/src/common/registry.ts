import { validate } from './schema.js';
import { LoginChallengeRequest, PasswordLoginRequest, PublicKeyLoginRequest, RegisterKeyRequest } from './auth.js';
import { ExitNotification, InitializedNotification, InitializeRequest, ShutdownRequest } from './lifecycle.js';
import { asNotification, asRequest, type MessageDefinition } from './messages.js';
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

/** Every message of the protocol, in spec order. The meta model and run-time validation both read this list. */
export const protocolMessages: readonly MessageDefinition[] = [
	asRequest(InitializeRequest),
	asNotification(InitializedNotification),
	asRequest(ShutdownRequest),
	asNotification(ExitNotification),
	asRequest(PasswordLoginRequest),
	asRequest(LoginChallengeRequest),
	asRequest(PublicKeyLoginRequest),
	asRequest(RegisterKeyRequest),
	asRequest(WhoamiRequest),
	asRequest(PingRequest),
	asRequest(EnvironmentListRequest),
	asNotification(EnvironmentDidChangeNotification),
	asRequest(EnvironmentCreateRequest),
	asRequest(EnvironmentRemoveRequest),
	asRequest(EnvironmentPackagesRequest),
	asRequest(EnvironmentInstallRequest),
	asRequest(EnvironmentUninstallRequest),
	asRequest(KernelStartRequest),
	asRequest(KernelListRequest),
	asRequest(KernelInterruptRequest),
	asRequest(KernelRestartRequest),
	asRequest(KernelShutdownRequest),
	asRequest(KernelAttachRequest),
	asRequest(KernelConnectRequest),
	asNotification(KernelDidChangeStateNotification),
	asNotification(KernelDidExitNotification),
	asNotification(KernelDidChangeJobNotification),
	asRequest(ServerCapabilitiesRequest),
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
