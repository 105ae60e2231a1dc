"""
The plugin's end of the JSON-RPC connection to spyder-remote-bridge: a
QProcess whose stdin and stdout carry Content-Length frames. Everything
runs on Qt's event loop; answers arrive as callbacks.
"""

import logging
import time
from collections import deque

from qtpy.QtCore import QObject, QProcess, Signal

from spyder_remote.bridge_protocol import ErrorCode, Method
from spyder_remote.framing import FrameReader, FramingError, encode

logger = logging.getLogger(__name__)


class BridgeError(Exception):
    """A request failed; `message` is meant for people, `code` for code."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message


def not_running():
    return BridgeError(ErrorCode.NOT_RUNNING, 'The spyder-remote bridge is not running.')


class BridgeClient(QObject):
    """
    Requests: `request(method, params, on_result, on_error)`.
    Notifications from the bridge: `sig_notification(method, params)`.
    Requests from the bridge: `on_request(method, handler)`, where the
    handler gets `(params, reply)` and calls `reply(result)` when it can.
    """

    sig_notification = Signal(str, object)
    # Emitted once when the process ends; the text is empty after stop().
    sig_stopped = Signal(str)

    def __init__(self, command, parent=None):
        super().__init__(parent)
        self._command = list(command)
        self._process = QProcess(self)
        self._process.setProgram(self._command[0])
        self._process.setArguments(self._command[1:])
        self._process.readyReadStandardOutput.connect(self._read_stdout)
        self._process.readyReadStandardError.connect(self._read_stderr)
        self._process.finished.connect(self._on_finished)
        self._reader = FrameReader()
        self._stderr_tail = deque(maxlen=20)
        self._pending = {}
        self._handlers = {}
        self._next_id = 1
        self._stopping = False
        self._stopped = False

    # ---- Lifecycle
    def start(self, timeout_ms=10000):
        """Start the process; raise BridgeError with a readable reason if it cannot run."""
        self._process.start()
        if not self._process.waitForStarted(timeout_ms):
            raise BridgeError(
                ErrorCode.NOT_RUNNING,
                'Could not start the spyder-remote bridge ({}): {}'.format(
                    ' '.join(self._command), self._process.errorString()))

    def is_running(self):
        return self._process.state() != QProcess.NotRunning

    def stop(self, stop_kernels=False, timeout_ms=8000):
        """
        Tell the bridge whether to stop its kernels, then close its stdin: it
        detaches from (or stops) its kernels, logs out and exits. Wait for
        that, then kill it if it hangs.
        """
        if not self.is_running():
            return
        request_id = self.request(Method.SHUTDOWN, {'stopKernels': bool(stop_kernels)})
        # Spyder is closing: no event loop will deliver the answer, so wait here.
        deadline = time.monotonic() + timeout_ms / 1000
        while request_id in self._pending and time.monotonic() < deadline:
            if not self._process.waitForReadyRead(max(1, int((deadline - time.monotonic()) * 1000))):
                break
        self._stopping = True
        self._process.closeWriteChannel()
        if not self._process.waitForFinished(timeout_ms):
            logger.warning('spyder-remote bridge did not exit in time; killing it')
            self._process.kill()
            self._process.waitForFinished(2000)

    # ---- Messages
    def request(self, method, params=None, on_result=None, on_error=None):
        """Send a request; return its id (for `cancel`)."""
        request_id = self._next_id
        self._next_id += 1
        if not self.is_running():
            if on_error is not None:
                on_error(not_running())
            return request_id
        self._pending[request_id] = (on_result, on_error, method)
        self._write({'jsonrpc': '2.0', 'id': request_id, 'method': method, 'params': params or {}})
        return request_id

    def notify(self, method, params=None):
        if self.is_running():
            self._write({'jsonrpc': '2.0', 'method': method, 'params': params or {}})

    def cancel(self, request_id):
        """Ask the bridge to cancel a request; its error callback says when it stopped."""
        self.notify(Method.CANCEL_REQUEST, {'id': request_id})

    def on_request(self, method, handler):
        self._handlers[method] = handler

    def _write(self, message):
        self._process.write(encode(message))

    def _read_stdout(self):
        data = bytes(self._process.readAllStandardOutput())
        try:
            messages = self._reader.feed(data)
        except (FramingError, ValueError) as error:
            logger.error('spyder-remote bridge sent garbage (%s); stopping it', error)
            self._process.kill()
            return
        for message in messages:
            self._dispatch(message)

    def _read_stderr(self):
        text = bytes(self._process.readAllStandardError()).decode('utf-8', 'replace')
        for line in text.splitlines():
            if line.strip():
                self._stderr_tail.append(line)
                logger.info('bridge: %s', line)

    def _dispatch(self, message):
        if 'id' in message and ('result' in message or 'error' in message):
            on_result, on_error, method = self._pending.pop(message['id'], (None, None, None))
            if 'error' in message:
                error = message['error'] or {}
                failure = BridgeError(error.get('code', ErrorCode.INTERNAL), error.get('message', 'unknown error'))
                if on_error is not None:
                    on_error(failure)
                else:
                    logger.warning('%s failed: %s', method, failure.message)
            elif on_result is not None:
                on_result(message['result'])
        elif 'id' in message:
            self._answer_request(message)
        elif 'method' in message:
            self.sig_notification.emit(message['method'], message.get('params') or {})

    def _answer_request(self, message):
        request_id = message['id']
        handler = self._handlers.get(message['method'])
        if handler is None:
            self._write({'jsonrpc': '2.0', 'id': request_id,
                         'error': {'code': ErrorCode.METHOD_NOT_FOUND, 'message': 'no handler for ' + message['method']}})
            return
        answered = []

        def reply(result):
            if not answered:
                answered.append(True)
                self._write({'jsonrpc': '2.0', 'id': request_id, 'result': result})

        handler(message.get('params') or {}, reply)

    def _on_finished(self, exit_code, _exit_status=None):
        if self._stopped:
            return
        self._stopped = True
        if self._stopping:
            reason = ''
        else:
            tail = '\n'.join(list(self._stderr_tail)[-5:])
            reason = 'The spyder-remote bridge stopped unexpectedly (exit code {}).'.format(exit_code)
            if tail:
                reason += '\n\nIts last words:\n' + tail
        pending, self._pending = self._pending, {}
        for _on_result, on_error, _method in pending.values():
            if on_error is not None:
                on_error(BridgeError(ErrorCode.NOT_RUNNING, reason or 'The spyder-remote bridge was stopped.'))
        self.sig_stopped.emit(reason)
