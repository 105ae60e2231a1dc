"""
The consoles Spyder has open on remote kernels: named after where they
run, interruptible through the server, released when closed, and reported
when their kernel dies.
"""

import re

from spyder.api.plugins import Plugins

from spyder_remote.spyder_compat import open_console
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
            self._plugin.call('kernel/release', {'id': kernel_id}, quiet=True)
            return None
        self._consoles[id(client)] = {'client': client, 'session': session, 'kernel': kernel_id, 'name': opened['displayName']}
        ipython_console.get_widget().rename_client_tab(client, opened['displayName'])
        self._interrupt_through_server(client.shellwidget, session, kernel_id)
        return client

    def consoles(self):
        return [entry['client'] for entry in self._consoles.values()]

    def kernel_of(self, client):
        entry = self._consoles.get(id(client))
        return entry['kernel'] if entry else None

    def _interrupt_through_server(self, shellwidget, session, kernel_id):
        # Spyder 5.4 interrupts only kernels it started (it signals their
        # process); this kernel runs on the server, which interrupts it as
        # the user. Spyder calls shellwidget.interrupt_kernel() for its
        # Interrupt action and button, so this console's gets the server's.
        def interrupt_kernel():
            shellwidget._execute_queue = []
            shellwidget._reading = False
            self._plugin.call('kernel/interrupt', {'session': session, 'id': kernel_id},
                              on_error=lambda error: show_error(self._plugin.main, error.message))

        shellwidget.interrupt_kernel = interrupt_kernel

    def on_shellwidget_deleted(self, shellwidget):
        """A console closed: when it was the kernel's last one here, stop forwarding (the kernel keeps running)."""
        for key, entry in list(self._consoles.items()):
            if entry['client'].shellwidget is shellwidget:
                del self._consoles[key]
                if not any(other['kernel'] == entry['kernel'] for other in self._consoles.values()):
                    self._plugin.call('kernel/release', {'id': entry['kernel']}, quiet=True)

    def on_kernel_event(self, params):
        if params['type'] != 'exit' or params['expected']:
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
