import { asNotification, asRequest } from '@spyder-remote/protocol';
import { DiscoveryEventNotification, DiscoveryStartRequest, DiscoveryStopRequest } from './discovery.js';
import {
	EnvironmentCreateRequest,
	EnvironmentDidChangeNotification,
	EnvironmentInstallRequest,
	EnvironmentListRequest,
	EnvironmentPackagesRequest,
	EnvironmentRemoveRequest,
	EnvironmentUninstallRequest,
	OperationProgressNotification,
} from './environments.js';
import {
	KernelAttachRequest,
	KernelDidChangeStateNotification,
	KernelDidExitNotification,
	KernelDidRestartNotification,
	KernelInterruptRequest,
	KernelListRequest,
	KernelReleaseRequest,
	KernelRestartRequest,
	KernelShutdownRequest,
	KernelStartRequest,
} from './kernels.js';
import { CancelRequestNotification, InitializeRequest, LogNotification, ShutdownRequest } from './lifecycle.js';
import type { BridgeMessageDefinition } from './messages.js';
import {
	HostConfirmRequest,
	SessionCloseRequest,
	SessionDidCloseNotification,
	SessionListRequest,
	SessionLoginRequest,
	SessionOpenRequest,
	SessionSaveKeyRequest,
	SessionWhoamiRequest,
} from './sessions.js';

/** Every message of the bridge protocol, in README order. The README's tables and the plugin's constants are generated from this list. */
export const bridgeMessages: readonly BridgeMessageDefinition[] = [
	asRequest(InitializeRequest),
	asRequest(ShutdownRequest),
	asRequest(DiscoveryStartRequest),
	asRequest(DiscoveryStopRequest),
	asRequest(SessionOpenRequest),
	asRequest(SessionLoginRequest),
	asRequest(SessionSaveKeyRequest),
	asRequest(SessionWhoamiRequest),
	asRequest(SessionListRequest),
	asRequest(SessionCloseRequest),
	asRequest(EnvironmentListRequest),
	asRequest(EnvironmentPackagesRequest),
	asRequest(EnvironmentCreateRequest),
	asRequest(EnvironmentRemoveRequest),
	asRequest(EnvironmentInstallRequest),
	asRequest(EnvironmentUninstallRequest),
	asRequest(KernelListRequest),
	asRequest(KernelStartRequest),
	asRequest(KernelAttachRequest),
	asRequest(KernelReleaseRequest),
	asRequest(KernelInterruptRequest),
	asRequest(KernelRestartRequest),
	asRequest(KernelShutdownRequest),
	asRequest(HostConfirmRequest),
	asNotification(CancelRequestNotification),
	asNotification(DiscoveryEventNotification),
	asNotification(OperationProgressNotification),
	asNotification(EnvironmentDidChangeNotification),
	asNotification(KernelDidChangeStateNotification),
	asNotification(KernelDidExitNotification),
	asNotification(KernelDidRestartNotification),
	asNotification(SessionDidCloseNotification),
	asNotification(LogNotification),
];
