"""
What differs between the Spyder versions the plugin runs in: 5.4, 6.0 and
6.1. Everything version-dependent lives here, so the rest of the plugin
reads the same in each.
"""

import inspect
import os.path as osp

import spyder
from qtpy.QtWidgets import QMessageBox
from spyder.config.base import running_under_pytest

# Spyder 6 reworked the console: "Connect to an existing kernel" moved to the
# main Consoles menu, kernels are reached through a kernel handler, and
# restarts go through the console widget instead of the client.
SPYDER_6 = int(spyder.__version__.split('.')[0]) >= 6

# Spyder minor version -> spyder-kernels versions it accepts, for Spyders
# that do not export their own bounds.
_KNOWN_RANGES = {
    '5.0': ('2.0.1', '2.1.0'),
    '5.1': ('2.1.0', '2.2.0'),
    '5.2': ('2.2.1', '2.3.0'),
    '5.3': ('2.3.0', '2.4.0'),
}


def spyder_version():
    return spyder.__version__


def spyder_kernels_range():
    """The spyder-kernels versions this Spyder can talk to, e.g. `>=3.0.0,<3.1.0`."""
    try:
        from spyder.plugins.ipythonconsole import (
            SPYDER_KERNELS_MAX_VERSION, SPYDER_KERNELS_MIN_VERSION)
        low, high = SPYDER_KERNELS_MIN_VERSION, SPYDER_KERNELS_MAX_VERSION
    except ImportError:
        minor = '.'.join(spyder.__version__.split('.')[:2])
        low, high = _KNOWN_RANGES.get(minor, _KNOWN_RANGES['5.3'])
    return '>={},<{}'.format(low, high)


def console_menus(ipython_console):
    """
    (menu, section) pairs of the console's own menus where "Connect to an
    existing kernel" sits: the options menu in 5.x, the tabs' context menu
    in 6.x (where the main Consoles menu has it too, see application_menu).
    """
    widget = ipython_console.get_widget()
    if SPYDER_6:
        from spyder.plugins.ipythonconsole.api import (
            IPythonConsoleWidgetTabsContextMenuSections)
        return [(widget.tabwidget.menu, IPythonConsoleWidgetTabsContextMenuSections.Consoles)]
    from spyder.plugins.ipythonconsole.widgets.main_widget import (
        IPythonConsoleWidgetOptionsMenuSections)
    return [(widget.get_options_menu(), IPythonConsoleWidgetOptionsMenuSections.Consoles)]


def application_menu():
    """(menu id, section) of Spyder's main menu that has "Connect to an existing kernel", or None (5.x)."""
    if not SPYDER_6:
        return None
    from spyder.plugins.mainmenu.api import ApplicationMenus, ConsolesMenuSections
    return ApplicationMenus.Consoles, ConsolesMenuSections.New


def open_console(ipython_console, connection_file):
    """
    Open a console on the kernel the connection file describes and return
    its client widget (None if Spyder refused, having said why itself).
    """
    before = set(id(client) for client in ipython_console.get_clients())
    create = getattr(ipython_console, 'create_client_for_kernel', None)
    if create is None:
        # Spyder 5.0-5.3 had it only as a private method, same arguments.
        ipython_console._create_client_for_kernel(connection_file, None, None, None)
    elif 'give_focus' in inspect.signature(create).parameters:
        # Spyder 6 added a remote-server argument and focus control, as
        # keywords after the 5.4 ones.
        create(connection_file, hostname=None, sshkey=None, password=None, give_focus=True)
    else:
        create(connection_file, None, None, None)
    wanted = osp.realpath(connection_file)
    for client in ipython_console.get_clients():
        if id(client) not in before and osp.realpath(client.connection_file) == wanted:
            return client
    return None


def route_restart(ipython_console, client, restart):
    """
    Make Spyder's Restart of this console call restart() instead, after the
    confirmation Spyder would ask for. Spyder restarts only kernels it
    started, through their kernel manager ("Cannot restart a kernel not
    started by Spyder" otherwise). 5.x calls client.restart_kernel(); 6.x
    calls the console widget's restart_kernel(client, ask_before_restart),
    which is wrapped once for all consoles.
    """
    client.spyder_remote_restart = restart
    if not SPYDER_6:
        client.restart_kernel = lambda: _confirmed(client, client.ask_before_restart) and restart()
        return
    widget = ipython_console.get_widget()
    if getattr(widget, 'spyder_remote_routes_restarts', False):
        return
    spyders_restart = widget.restart_kernel

    def restart_kernel(client=None, ask_before_restart=True):
        target = client if client is not None else widget.get_current_client()
        ours = getattr(target, 'spyder_remote_restart', None)
        if ours is None:
            return spyders_restart(client, ask_before_restart)
        if _confirmed(widget, ask_before_restart and widget.get_conf('ask_before_restart')):
            ours()
        return None

    widget.restart_kernel = restart_kernel
    widget.spyder_remote_routes_restarts = True


def _confirmed(parent, ask):
    if not ask or running_under_pytest():
        return True
    answer = QMessageBox.question(parent, 'Restart kernel?', 'Are you sure you want to restart the kernel?',
                                  QMessageBox.Yes | QMessageBox.No)
    return answer == QMessageBox.Yes


def close_kernel_comm(shellwidget):
    """Close the console's comm to its Spyder kernel, before that kernel goes away."""
    if SPYDER_6:
        shellwidget.kernel_handler.close_comm()
    else:
        shellwidget.spyder_kernel_comm.close()


def reconnect_spyder_kernel(ipython_console, shellwidget):
    """
    After the kernel behind a console was replaced: forget the debugger
    state, open a fresh comm, and tell the panes that configure the kernel
    through it (Variable Explorer, Plots, ...), as Spyder does after a
    restart of its own.
    """
    if SPYDER_6:
        shellwidget.reset_kernel_state()
        # The comm to the old kernel is dropped without a word to it: it is
        # gone. Spyder 6.1's reconnect_kernel() would ask it to close instead
        # and keep the comm until it confirms, which never happens; every
        # later call, the configuration with the Variable Explorer's settings
        # first, then fails as "not connected". The new comm's answer makes
        # Spyder configure the kernel as a new one.
        shellwidget.kernel_handler.reopen_comm()
        return
    shellwidget._pdb_in_loop = False
    shellwidget.spyder_kernel_comm.remove()
    ipython_console.get_widget().connect_external_spyder_kernel(shellwidget)
