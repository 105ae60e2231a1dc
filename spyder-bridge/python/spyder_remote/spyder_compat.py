"""What differs between the Spyder versions the plugin runs in."""

import inspect
import os.path as osp

import spyder

# Spyder minor version -> spyder-kernels versions it accepts, for Spyders
# that do not export their own bounds.
_KNOWN_RANGES = {
    '5.0': ('2.0.1', '2.1.0'),
    '5.1': ('2.1.0', '2.2.0'),
    '5.2': ('2.2.1', '2.3.0'),
    '5.3': ('2.3.0', '2.4.0'),
    '5.4': ('2.4.0', '2.5.0'),
    '5.5': ('2.5.0', '2.6.0'),
    '6.0': ('3.0.0', '3.1.0'),
}


def spyder_version():
    return spyder.__version__


def spyder_kernels_range():
    """The spyder-kernels versions this Spyder can talk to, e.g. `>=2.4.0,<2.5.0`."""
    try:
        from spyder.plugins.ipythonconsole import (
            SPYDER_KERNELS_MAX_VERSION, SPYDER_KERNELS_MIN_VERSION)
        low, high = SPYDER_KERNELS_MIN_VERSION, SPYDER_KERNELS_MAX_VERSION
    except ImportError:
        minor = '.'.join(spyder.__version__.split('.')[:2])
        low, high = _KNOWN_RANGES.get(minor, _KNOWN_RANGES['5.4'])
    return '>={},<{}'.format(low, high)


def options_menu_section():
    """The section of the console's options menu that holds "Connect to an existing kernel"."""
    try:
        from spyder.plugins.ipythonconsole.widgets.main_widget import (
            IPythonConsoleWidgetOptionsMenuSections)
    except ImportError:
        from spyder.plugins.ipythonconsole.widgets import (
            IPythonConsoleWidgetOptionsMenuSections)
    return IPythonConsoleWidgetOptionsMenuSections.Consoles


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
        # Spyder 6 added a remote-server argument (server_id, later jupyter_api)
        # and focus control, as keywords after the 5.4 ones.
        create(connection_file, hostname=None, sshkey=None, password=None, give_focus=True)
    else:
        create(connection_file, None, None, None)
    wanted = osp.realpath(connection_file)
    for client in ipython_console.get_clients():
        if id(client) not in before and osp.realpath(client.connection_file) == wanted:
            return client
    return None


def connect_spyder_kernel(ipython_console, shellwidget):
    """
    Open the console's comm to its Spyder kernel and tell the panes that use
    it (Variable Explorer, Plots, ...) so, as Spyder does when a console
    connects to an existing Spyder kernel.
    """
    ipython_console.get_widget().connect_external_spyder_kernel(shellwidget)
