"""
The bridge protocol's fixed vocabulary, for the plugin: method names, error
codes and the values the plugin sends or compares with.

Generated from spyder-bridge/src/protocol/ by scripts/generate-bridge-protocol.mjs
(npm run generate): do not edit. test/bridge-protocol.test.ts fails when it is stale.
"""


BRIDGE_VERSION = '0.1.0'
# The port servers listen on when none is given.
DEFAULT_PORT = 7446


class Method:
    """Every message's method: requests and notifications, both ways."""

    INITIALIZE = 'initialize'
    SHUTDOWN = 'shutdown'
    DISCOVERY_START = 'discovery/start'
    DISCOVERY_STOP = 'discovery/stop'
    SESSION_OPEN = 'session/open'
    SESSION_LOGIN = 'session/login'
    SESSION_SAVE_KEY = 'session/saveKey'
    SESSION_WHOAMI = 'session/whoami'
    SESSION_CAPABILITIES = 'session/capabilities'
    SESSION_LIST = 'session/list'
    SESSION_CLOSE = 'session/close'
    ENVIRONMENT_LIST = 'environment/list'
    ENVIRONMENT_PACKAGES = 'environment/packages'
    ENVIRONMENT_CREATE = 'environment/create'
    ENVIRONMENT_REMOVE = 'environment/remove'
    ENVIRONMENT_INSTALL = 'environment/install'
    ENVIRONMENT_UNINSTALL = 'environment/uninstall'
    KERNEL_LIST = 'kernel/list'
    KERNEL_START = 'kernel/start'
    KERNEL_ATTACH = 'kernel/attach'
    KERNEL_RELEASE = 'kernel/release'
    KERNEL_INTERRUPT = 'kernel/interrupt'
    KERNEL_RESTART = 'kernel/restart'
    KERNEL_SHUTDOWN = 'kernel/shutdown'
    HOST_CONFIRM = 'host/confirm'
    CANCEL_REQUEST = '$/cancelRequest'
    DISCOVERY_EVENT = 'discovery/event'
    OPERATION_PROGRESS = 'operation/progress'
    ENVIRONMENT_DID_CHANGE = 'environment/didChange'
    KERNEL_DID_CHANGE_STATE = 'kernel/didChangeState'
    KERNEL_DID_EXIT = 'kernel/didExit'
    KERNEL_DID_CHANGE_JOB = 'kernel/didChangeJob'
    KERNEL_DID_RESTART = 'kernel/didRestart'
    SESSION_DID_CLOSE = 'session/didClose'
    LOG = 'log'


class ErrorCode:
    """JSON-RPC's and LSP's codes, the server's (1000-1999, passed through by the bridge) and the bridge's own."""

    REQUEST_CANCELLED = -32800
    PARSE_ERROR = -32700
    INTERNAL_ERROR = -32603
    INVALID_PARAMS = -32602
    METHOD_NOT_FOUND = -32601
    INVALID_REQUEST = -32600
    SERVER_NOT_INITIALIZED = -32002
    UNAUTHENTICATED = 1001
    AUTHENTICATION_FAILED = 1002
    PROTOCOL_VERSION_MISMATCH = 1003
    TOO_MANY_AUTH_ATTEMPTS = 1004
    ALREADY_AUTHENTICATED = 1005
    SESSION_UNAVAILABLE = 1006
    SHUTTING_DOWN = 1007
    AUTH_METHOD_UNAVAILABLE = 1008
    ENVIRONMENT_NOT_FOUND = 1101
    PERMISSION_DENIED = 1102
    PATH_NOT_ALLOWED = 1103
    TOOL_FAILED = 1104
    TOOL_UNAVAILABLE = 1105
    ENVIRONMENT_EXISTS = 1106
    KERNEL_NOT_FOUND = 1201
    KERNEL_UNAVAILABLE = 1202
    KERNEL_FAILED = 1203
    UNREACHABLE = 2001
    HOST_KEY_CHANGED = 2002
    HOST_NOT_TRUSTED = 2003
    NOT_SPYDER_REMOTE = 2004
    NO_SESSION = 2005
    NO_KEY = 2006
    NOT_RUNNING = 2007
    KERNEL_INCOMPATIBLE = 2008
    INTERNAL = 2099


# The bridge's own codes: a range the public protocol never uses.
BRIDGE_ERROR_CODES = range(2000, 3000)


class AuthMethod:
    """`method` of a `session/login` result: how the login went."""

    PASSWORD = 'password'
    PUBLIC_KEY = 'publicKey'


class DiscoveryEventType:
    """`type` of `discovery/event`."""

    UP = 'up'
    UPDATED = 'updated'
    DOWN = 'down'


class LogLevel:
    """`level` of `log`."""

    INFO = 'info'
    WARNING = 'warning'
    ERROR = 'error'


class EnvironmentKind:
    """`kind` of `environment/create`: the kinds the plugin can create."""

    VENV = 'venv'
    CONDA = 'conda'
