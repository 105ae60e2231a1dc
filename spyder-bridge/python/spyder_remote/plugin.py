"""
The Spyder plugin: two entries beside "Connect to an existing kernel" (the
console's options menu in Spyder 5.x; the main Consoles menu and the tabs'
context menu in 6.x), and the bridge process they talk to, started on first
use.
"""

import logging

from qtpy.QtCore import Signal

from spyder.api.plugin_registration.decorators import (
    on_plugin_available, on_plugin_teardown)
from spyder.api.plugins import Plugins, SpyderPluginV2
from spyder.utils.icon_manager import ima

from spyder_remote.bridge import BridgeClient, BridgeError, not_running
from spyder_remote.bridge_protocol import DEFAULT_PORT, LogLevel, Method
from spyder_remote.confpage import SpyderRemoteConfigPage
from spyder_remote.consoles import RemoteConsoles
from spyder_remote.locate import BridgeNotFound, find_bridge_command
from spyder_remote.spyder_compat import (
    application_menu, console_menus, spyder_kernels_range, spyder_version)
from spyder_remote.widgets.admin import AdminDialog
from spyder_remote.widgets.connect import ConnectDialog
from spyder_remote.widgets.fingerprint import FingerprintDialog
from spyder_remote.widgets.messages import show_error, show_warning

logger = logging.getLogger(__name__)


class SpyderRemoteActions:
    Connect = 'spyder_remote_connect'
    Administer = 'spyder_remote_administer'


class SpyderRemote(SpyderPluginV2):
    """Consoles on kernels that run on a spyder-remote server, as your own user there."""

    NAME = 'spyder_remote'
    REQUIRES = [Plugins.IPythonConsole]
    OPTIONAL = [Plugins.Preferences, Plugins.MainMenu]
    CONF_WIDGET_CLASS = SpyderRemoteConfigPage
    CONF_SECTION = NAME
    CONF_FILE = True
    CONF_VERSION = '1.0.0'
    CONF_DEFAULTS = [(CONF_SECTION, {
        # Path of spyder-remote-bridge (or its .js file); empty: look on PATH, then next to this package.
        'bridge_path': '',
        # Node.js to run a .js bridge with; empty: `node` on PATH.
        'node_path': '',
        # Comma-separated interfaces to look for servers on; empty: all.
        'discovery_interfaces': '',
        # Stop the remote kernels of Spyder's consoles when Spyder exits, instead of leaving them running.
        'stop_kernels_on_exit': False,
        'last_host': '',
        'last_port': DEFAULT_PORT,
        'last_user': '',
    })]

    # Every notification of the bridge, for the dialogs that are open.
    sig_bridge_notification = Signal(str, object)
    sig_sessions_changed = Signal()

    @staticmethod
    def get_name():
        return 'Spyder remote'

    # Spyder 6 calls these two on the class (Preferences > Plugins); 5.x on the instance.
    @staticmethod
    def get_description():
        return 'Consoles on kernels that run on a spyder-remote server, as your own user there.'

    @classmethod
    def get_icon(cls):
        return ima.icon('ipython_console')

    def on_initialize(self):
        self.bridge = None
        self.key_fingerprint = None
        # session id -> {'info': ..., 'whoami': ...}, for the sessions logged in through the bridge.
        self.sessions = {}
        self.consoles = RemoteConsoles(self)
        self.connect_dialog = None
        self.admin_dialog = None
        self.fingerprint_dialog = None
        self._confirm_parent = None
        self.connect_action = self.create_action(
            SpyderRemoteActions.Connect, 'Connect to remote…',
            tip='Open a console on a kernel that runs on a spyder-remote server',
            triggered=self.show_connect_dialog, register_shortcut=False)
        self.admin_action = self.create_action(
            SpyderRemoteActions.Administer, 'Administer remote…',
            tip='Environments and kernels on spyder-remote servers',
            triggered=self.show_admin_dialog, register_shortcut=False)

    @on_plugin_available(plugin=Plugins.IPythonConsole)
    def on_ipython_console_available(self):
        ipython_console = self.get_plugin(Plugins.IPythonConsole)
        widget = ipython_console.get_widget()
        # Appended to the section that ends with "Connect to an existing kernel".
        for menu, section in console_menus(ipython_console):
            for action in (self.connect_action, self.admin_action):
                widget.add_item_to_menu(action, menu=menu, section=section)
        ipython_console.sig_shellwidget_deleted.connect(self.consoles.on_shellwidget_deleted)

    @on_plugin_available(plugin=Plugins.MainMenu)
    def on_main_menu_available(self):
        # Spyder registers external plugins after its own, so the console's entries are already there.
        where = application_menu()
        if where is not None:
            for action in (self.connect_action, self.admin_action):
                self.get_plugin(Plugins.MainMenu).add_item_to_application_menu(action, menu_id=where[0], section=where[1])

    @on_plugin_available(plugin=Plugins.Preferences)
    def on_preferences_available(self):
        self.get_plugin(Plugins.Preferences).register_plugin_preferences(self)

    @on_plugin_teardown(plugin=Plugins.Preferences)
    def on_preferences_teardown(self):
        self.get_plugin(Plugins.Preferences).deregister_plugin_preferences(self)

    @on_plugin_teardown(plugin=Plugins.IPythonConsole)
    def on_ipython_console_teardown(self):
        ipython_console = self.get_plugin(Plugins.IPythonConsole)
        for menu, _section in console_menus(ipython_console):
            for action_id in (SpyderRemoteActions.Connect, SpyderRemoteActions.Administer):
                menu.remove_action(action_id)
        ipython_console.sig_shellwidget_deleted.disconnect(self.consoles.on_shellwidget_deleted)

    @on_plugin_teardown(plugin=Plugins.MainMenu)
    def on_main_menu_teardown(self):
        where = application_menu()
        if where is not None:
            for action_id in (SpyderRemoteActions.Connect, SpyderRemoteActions.Administer):
                self.get_plugin(Plugins.MainMenu).remove_item_from_application_menu(action_id, menu_id=where[0])

    def on_close(self, cancelable=False):
        # The bridge detaches from the kernels (they keep running for the
        # next Spyder) unless stop_kernels_on_exit asks to stop them.
        if self.bridge is not None:
            self.bridge.stop(stop_kernels=self.get_conf('stop_kernels_on_exit'))
            self.bridge = None

    # ---- Dialogs
    def show_connect_dialog(self):
        if not self.ensure_bridge():
            return None
        if self.connect_dialog is not None and self.connect_dialog.isVisible():
            self.connect_dialog.raise_()
            return self.connect_dialog
        self.connect_dialog = ConnectDialog(self, self.main)
        self.connect_dialog.show()
        return self.connect_dialog

    def show_admin_dialog(self):
        if not self.ensure_bridge():
            return None
        if self.admin_dialog is not None and self.admin_dialog.isVisible():
            self.admin_dialog.raise_()
            return self.admin_dialog
        self.admin_dialog = AdminDialog(self, self.main)
        self.admin_dialog.show()
        if not self.sessions:
            self.admin_dialog.show_login()
        return self.admin_dialog

    def set_confirm_parent(self, widget):
        self._confirm_parent = widget

    def find_session(self, host, port, user):
        """A session already logged in to that server as that user, if any."""
        for entry in self.sessions.values():
            info = entry['info']
            if (info['host'], info['port'], info['user']) == (host, port, user):
                return entry
        return None

    def add_session(self, info, whoami):
        self.sessions[info['session']] = {'info': info, 'whoami': whoami}
        self.sig_sessions_changed.emit()

    # ---- The bridge
    def ensure_bridge(self):
        """Start the bridge if needed; on failure tell the user why and return False."""
        if self.bridge is not None and self.bridge.is_running():
            return True
        try:
            command = find_bridge_command(self.get_conf('bridge_path'), self.get_conf('node_path'))
            bridge = BridgeClient(command, self)
            bridge.start()
        except (BridgeNotFound, BridgeError) as error:
            show_error(self.main, str(error))
            return False
        bridge.sig_notification.connect(self._on_notification)
        bridge.sig_stopped.connect(self._on_bridge_stopped)
        bridge.on_request(Method.HOST_CONFIRM, self._confirm_host)
        self.bridge = bridge
        self.sessions = {}
        bridge.request(Method.INITIALIZE, {
            'spyderVersion': spyder_version(),
            'spyderKernelsRange': spyder_kernels_range(),
            'stopKernelsOnExit': bool(self.get_conf('stop_kernels_on_exit')),
        }, on_result=self._on_initialized, on_error=lambda error: show_error(self.main, error.message))
        return True

    def call(self, method, params, on_result=None, on_error=None, quiet=False):
        """A request to the bridge; errors go to `on_error`, else to a dialog unless `quiet`."""
        if on_error is None:
            def on_error(error):
                if quiet:
                    logger.info('%s failed: %s', method, error.message)
                else:
                    show_error(self.main, error.message)
        if self.bridge is None:
            on_error(not_running())
            return None
        return self.bridge.request(method, params, on_result, on_error)

    def cancel(self, request_id):
        if self.bridge is not None:
            self.bridge.cancel(request_id)

    def _on_initialized(self, result):
        self.key_fingerprint = result.get('keyFingerprint')

    def _on_notification(self, method, params):
        if method == Method.KERNEL_DID_EXIT:
            self.consoles.on_kernel_exit(params)
        elif method == Method.KERNEL_DID_RESTART:
            self.consoles.on_kernel_restart(params)
        elif method == Method.SESSION_DID_CLOSE:
            self.sessions.pop(params['session'], None)
            self.sig_sessions_changed.emit()
            show_warning(self.main, params['reason'])
        elif method == Method.LOG:
            getattr(logger, 'warning' if params['level'] != LogLevel.INFO else 'info')('bridge: %s', params['message'])
        self.sig_bridge_notification.emit(method, params)

    def _on_bridge_stopped(self, reason):
        self.bridge = None
        self.sessions = {}
        self.sig_sessions_changed.emit()
        if reason:
            show_error(self.main, reason + '\n\nConsoles on remote kernels stop working; the kernels keep running on their servers.')

    def _confirm_host(self, params, reply):
        parent = self._confirm_parent or self.main
        self.fingerprint_dialog = FingerprintDialog(
            parent, params['host'], params['port'], params['fingerprint'],
            announced=params.get('announcedFingerprint'),
            answer=lambda trust: reply({'trust': trust}))
        self.fingerprint_dialog.open()
