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
import type { BridgeMessageDefinition, BridgeNotificationDefinition, BridgeRequestDefinition } from './messages.js';
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

const request = (definition: Omit<BridgeRequestDefinition, 'kind'>): BridgeRequestDefinition => ({ kind: 'request', ...definition });
const notification = (definition: Omit<BridgeNotificationDefinition, 'kind'>): BridgeNotificationDefinition => ({ kind: 'notification', ...definition });

/** Every message of the bridge protocol, in README order. The README's tables and the plugin's constants are generated from this list. */
export const bridgeMessages: readonly BridgeMessageDefinition[] = [
	request(InitializeRequest),
	request(ShutdownRequest),
	request(DiscoveryStartRequest),
	request(DiscoveryStopRequest),
	request(SessionOpenRequest),
	request(SessionLoginRequest),
	request(SessionSaveKeyRequest),
	request(SessionWhoamiRequest),
	request(SessionListRequest),
	request(SessionCloseRequest),
	request(EnvironmentListRequest),
	request(EnvironmentPackagesRequest),
	request(EnvironmentCreateRequest),
	request(EnvironmentRemoveRequest),
	request(EnvironmentInstallRequest),
	request(EnvironmentUninstallRequest),
	request(KernelListRequest),
	request(KernelStartRequest),
	request(KernelAttachRequest),
	request(KernelReleaseRequest),
	request(KernelInterruptRequest),
	request(KernelRestartRequest),
	request(KernelShutdownRequest),
	request(HostConfirmRequest),
	notification(CancelRequestNotification),
	notification(DiscoveryEventNotification),
	notification(OperationProgressNotification),
	notification(EnvironmentDidChangeNotification),
	notification(KernelDidChangeStateNotification),
	notification(KernelDidExitNotification),
	notification(KernelDidRestartNotification),
	notification(SessionDidCloseNotification),
	notification(LogNotification),
];
