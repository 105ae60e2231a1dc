"""
The consoles Spyder has open on remote kernels: named after where they
run, interrupted and restarted through the server, released when closed,
and reported when their kernel dies.
"""

import re

from qtpy.QtCore import QTimer
from spyder.api.plugins import Plugins

from spyder_remote.bridge_protocol import Method
from spyder_remote.spyder_compat import close_kernel_comm, open_console, reconnect_spyder_kernel, route_restart
from spyder_remote.widgets.messages import show_error, show_warning

_DEBUGGER_NOTE = re.compile(r'^\d+\.\d+s - ')


class RemoteConsoles:

    def __init__(self, plugin):
        self._plugin = plugin
        # id(client) -> {'client', 'session', 'kernel', 'name'}
        self._consoles = {}
        self.last_message = None

    def open(self, opened, session):
        """A console on a kernel the bridge forwards; None if Spyder could not open one."""
        ipython_console = self._plugin.get_plugin(Plugins.IPythonConsole)
        kernel_id = opened['kernel']['id']
        client = open_console(ipython_console, opened['connectionFile'])
        if client is None:
            self._plugin.call(Method.KERNEL_RELEASE, {'id': kernel_id}, quiet=True)
            return None
        self._consoles[id(client)] = {'client': client, 'session': session, 'kernel': kernel_id, 'name': opened['displayName']}
        ipython_console.get_widget().rename_client_tab(client, opened['displayName'])
        _keep_remote_cwd(client.shellwidget)
        _ignore_missed_heartbeats(client.shellwidget)
        self._interrupt_through_server(client.shellwidget, session, kernel_id)
        self._restart_through_server(client, session, kernel_id)
        return client

    def kernel_of(self, client):
        entry = self._consoles.get(id(client))
        return entry['kernel'] if entry else None

    def _interrupt_through_server(self, shellwidget, session, kernel_id):
        # Spyder interrupts only kernels it started (it signals their
        # process); this kernel runs on the server, which interrupts it as
        # the user. Spyder 5.4 to 6.1 call shellwidget.interrupt_kernel() for
        # the Interrupt action and button, so this console's gets the server's.
        def interrupt_kernel():
            shellwidget._execute_queue = []
            shellwidget._reading = False
            self._plugin.call(Method.KERNEL_INTERRUPT, {'session': session, 'id': kernel_id},
                              on_error=lambda error: show_error(self._plugin.main, error.message))

        shellwidget.interrupt_kernel = interrupt_kernel

    def _restart_through_server(self, client, session, kernel_id):
        # The server restarts this kernel as the user under the same id, so
        # the connection file stays valid and the console's sockets reconnect
        # through the forwarder; the rest happens in on_kernel_restart.
        def restart():
            client.shellwidget._execute_queue = []
            close_kernel_comm(client.shellwidget)
            self._plugin.call(Method.KERNEL_RESTART, {'session': session, 'id': kernel_id},
                              on_error=lambda error: show_error(self._plugin.main, error.message))

        route_restart(self._plugin.get_plugin(Plugins.IPythonConsole), client, restart)

    def on_kernel_restart(self, params):
        # What Spyder does after restarting a kernel of its own: a fresh comm,
        # announced to the panes that configure the kernel through it (the
        # Variable Explorer's view settings, among others), and a line in the
        # console. Whoever asked for the restart, Spyder or another client.
        ipython_console = self._plugin.get_plugin(Plugins.IPythonConsole)
        for entry in self._consoles.values():
            if entry['kernel'] == params['id']:
                _when_iopub_flows(entry['client'].shellwidget,
                                  lambda shellwidget: _reconnect_after_restart(ipython_console, shellwidget))

    def on_shellwidget_deleted(self, shellwidget):
        """A console closed: when it was the kernel's last one here, stop forwarding (the kernel keeps running)."""
        for key, entry in list(self._consoles.items()):
            if entry['client'].shellwidget is shellwidget:
                del self._consoles[key]
                if not any(other['kernel'] == entry['kernel'] for other in self._consoles.values()):
                    self._plugin.call(Method.KERNEL_RELEASE, {'id': entry['kernel']}, quiet=True)

    def on_kernel_exit(self, params):
        if params['expected']:
            return
        names = sorted(set(entry['name'] for entry in self._consoles.values() if entry['kernel'] == params['id']))
        if not names:
            return
        if params.get('exitCode') is not None:
            how = 'with exit code {}'.format(params['exitCode'])
        else:
            how = 'by signal {}'.format(params.get('signal', '?'))
        text = ('The remote kernel of {} stopped {}. Its variables are lost; open a new console '
                'with "Connect to remote…".'.format(', '.join(names), how))
        # The debugger's start-up notes (timestamped "0.00s - …") say nothing about why a kernel ended.
        tail = [line for line in params.get('stderrTail', []) if line.strip() and not _DEBUGGER_NOTE.match(line)]
        self.last_message = show_warning(self._plugin.main, text, details='\n'.join(tail[-20:]))


def _keep_remote_cwd(shellwidget):
    # Spyder sends its own working directory to a kernel it connects to, and
    # again whenever the Working Directory toolbar changes; a local path means
    # nothing on the server (Spyder 6 aborts the whole kernel configuration,
    # Variable Explorer settings included, when chdir fails). The kernel
    # starts in the directory the server was asked for, and keeps its own.
    shellwidget.set_cwd = lambda *args, **kwargs: None


def _ignore_missed_heartbeats(shellwidget):
    # A restart through the server leaves the heartbeat unanswered for a
    # moment. Spyder 6 takes that for the death of a kernel it cannot
    # restart, shuts the console down and marks it failed in the panes.
    # qtconsole hands missed heartbeats to whoever restarts the kernel when
    # custom_restart is set; here that is the server, whose kernel/didExit
    # tells a restart from a death (on_kernel_exit).
    shellwidget.custom_restart = True


def _reconnect_after_restart(ipython_console, shellwidget):
    if shellwidget._executing:
        # The request that was running died with the old kernel; without this the console would wait for it forever.
        shellwidget.reset()
    reconnect_spyder_kernel(ipython_console, shellwidget)
    shellwidget._append_html('<br>Restarting kernel...<br>', before_prompt=True)
    shellwidget.insert_horizontal_ruler()


_KERNEL_INFO_INTERVAL_MS = 200
_KERNEL_INFO_ATTEMPTS = 50


def _when_iopub_flows(shellwidget, then):
    """
    Calls then(shellwidget) once the console's IOPub socket receives again.
    Its SUB socket reconnects through a new tunnel some time after the new
    kernel is ready, and what the kernel publishes before that (the comm's
    answers, the next output) is lost. A kernel_info request makes the
    kernel publish a status message, so one arriving proves the flow; the
    request is resent until then, for at most 10 s.
    """
    kernel_client = shellwidget.kernel_client
    timer = QTimer(shellwidget)
    timer.setInterval(_KERNEL_INFO_INTERVAL_MS)
    attempts = [0]

    def finish():
        timer.stop()
        kernel_client.iopub_channel.message_received.disconnect(on_message)
        then(shellwidget)

    def on_message(message):
        if message['header']['msg_type'] == 'status':
            finish()

    def ask():
        attempts[0] += 1
        if attempts[0] > _KERNEL_INFO_ATTEMPTS:
            finish()
        else:
            kernel_client.kernel_info()

    kernel_client.iopub_channel.message_received.connect(on_message)
    timer.timeout.connect(ask)
    timer.start()
    ask()
