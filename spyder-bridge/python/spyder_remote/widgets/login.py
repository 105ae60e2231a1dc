"""
Finding a server and logging in: the part both dialogs share. Servers
found on the network appear and disappear live; any host can be typed in.
"""

import getpass

from qtpy.QtCore import Qt, Signal
from qtpy.QtWidgets import (
    QCheckBox, QFormLayout, QHBoxLayout, QLabel, QLineEdit, QListWidget,
    QListWidgetItem, QPushButton, QSpinBox, QVBoxLayout, QWidget)

from spyder.utils.icon_manager import ima

from spyder_remote.bridge_protocol import DEFAULT_PORT, AuthMethod, DiscoveryEventType, ErrorCode, Method
from spyder_remote.widgets.messages import show_error

# Error codes after which the password field deserves the focus again.
_PASSWORD_ERRORS = (ErrorCode.AUTHENTICATION_FAILED, ErrorCode.NO_KEY)


def server_key(server):
    return server['instanceName'].lower()


class LoginPanel(QWidget):
    """Emits `sig_logged_in(info, whoami)` once a session is logged in."""

    sig_logged_in = Signal(dict, dict)
    sig_busy = Signal(bool)

    def __init__(self, plugin, parent=None):
        super().__init__(parent)
        self._plugin = plugin
        self._servers = {}
        self._selected = None
        self.last_error = None

        self.servers_list = QListWidget()
        self.servers_list.setObjectName('spyder_remote_servers')
        self.servers_list.setMinimumHeight(60)
        self.servers_list.setMaximumHeight(90)
        self.servers_list.currentItemChanged.connect(self._on_server_selected)
        self.servers_list.itemDoubleClicked.connect(lambda _item: self.password_edit.setFocus())
        self._placeholder = QListWidgetItem('Looking for servers on the local network…')
        self._placeholder.setFlags(Qt.NoItemFlags)
        self.servers_list.addItem(self._placeholder)

        self.host_edit = QLineEdit(plugin.get_conf('last_host'))
        self.host_edit.setPlaceholderText('host name or address, e.g. labserver.example.org')
        self.host_edit.textEdited.connect(self._on_host_typed)
        self.port_spin = QSpinBox()
        self.port_spin.setRange(1, 65535)
        self.port_spin.setValue(plugin.get_conf('last_port') or DEFAULT_PORT)
        host_row = QHBoxLayout()
        host_row.addWidget(self.host_edit, 1)
        host_row.addWidget(QLabel('Port:'))
        host_row.addWidget(self.port_spin)

        self.user_edit = QLineEdit(plugin.get_conf('last_user') or _local_user())
        self.password_edit = QLineEdit()
        self.password_edit.setEchoMode(QLineEdit.Password)
        self.password_edit.returnPressed.connect(self.login)
        self.remember_key_check = QCheckBox('Remember a key instead of the password')
        self.remember_key_check.setToolTip(
            'After this login, this computer\'s own key is registered with the '
            'server, and later logins need no password.')

        self.login_button = QPushButton(ima.icon('lock'), 'Log in')
        self.login_button.setObjectName('spyder_remote_login')
        self.login_button.setDefault(True)
        self.login_button.clicked.connect(self.login)
        self.status_label = QLabel()
        self.status_label.setWordWrap(True)
        button_row = QHBoxLayout()
        button_row.addWidget(self.status_label, 1)
        button_row.addWidget(self.login_button)

        form = QFormLayout()
        form.addRow('Host:', host_row)
        form.addRow('User:', self.user_edit)
        form.addRow('Password:', self.password_edit)
        form.addRow('', self.remember_key_check)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(QLabel('Servers found on the local network:'))
        layout.addWidget(self.servers_list)
        layout.addLayout(form)
        layout.addLayout(button_row)
        self.refresh_key_hint()

    # ---- Discovery
    def start_discovery(self):
        self._plugin.sig_bridge_notification.connect(self._on_notification)
        interfaces = [name.strip() for name in self._plugin.get_conf('discovery_interfaces').split(',') if name.strip()]
        self._plugin.call(Method.DISCOVERY_START, {'interfaces': interfaces} if interfaces else {},
                          on_result=lambda result: [self._server_up(server) for server in result['servers']],
                          on_error=lambda error: self._set_placeholder('Discovery is not available: ' + error.message))

    def stop_discovery(self):
        try:
            self._plugin.sig_bridge_notification.disconnect(self._on_notification)
        except (RuntimeError, TypeError):
            pass
        self._plugin.call(Method.DISCOVERY_STOP, {}, quiet=True)

    def _on_notification(self, method, params):
        if method != Method.DISCOVERY_EVENT:
            return
        if params['type'] == DiscoveryEventType.DOWN:
            self._server_down(params['server'])
        else:
            self._server_up(params['server'])

    def _server_up(self, server):
        key = server_key(server)
        item = self._servers.get(key)
        if item is None:
            item = QListWidgetItem()
            self._servers[key] = item
            self.servers_list.addItem(item)
        item.setData(Qt.UserRole, server)
        item.setText('{name}    {address}:{port}    {os}, server {version}{known}'.format(
            name=server['instanceName'], address=server['addresses'][0], port=server['port'],
            os=server['os'], version=server['serverVersion'],
            known='    (known)' if server.get('pinned') else ''))
        item.setIcon(ima.icon('ipython_console'))
        item.setToolTip('Announced fingerprint (checked when connecting): ' + server['fingerprint'])
        self._placeholder.setHidden(True)

    def _server_down(self, server):
        item = self._servers.pop(server_key(server), None)
        if item is not None:
            self.servers_list.takeItem(self.servers_list.row(item))
        if not self._servers:
            self._placeholder.setHidden(False)

    def _set_placeholder(self, text):
        self._placeholder.setText(text)

    def select_server(self, instance_name):
        """Select a discovered server by name; False if it has not been seen."""
        item = self._servers.get(instance_name.lower())
        if item is None:
            return False
        self.servers_list.setCurrentItem(item)
        return True

    def _on_server_selected(self, current, _previous):
        server = current.data(Qt.UserRole) if current is not None else None
        if not server:
            return
        self._selected = server
        self.host_edit.setText(server['addresses'][0])
        self.port_spin.setValue(server['port'])

    def _on_host_typed(self, _text):
        # Typing a host means this is no longer the discovered server.
        self._selected = None
        self.servers_list.setCurrentItem(None)

    # ---- Login
    def refresh_key_hint(self):
        if self._plugin.key_fingerprint:
            self.password_edit.setPlaceholderText('leave empty to log in with the key saved on this computer')
        else:
            self.password_edit.setPlaceholderText('')

    def login(self):
        host = self.host_edit.text().strip()
        user = self.user_edit.text().strip()
        password = self.password_edit.text()
        if not host or not user:
            self._fail('Enter the server\'s host and your user name on it.')
            return
        if not password and not self._plugin.key_fingerprint:
            self._fail('Enter your password.', self.password_edit)
            return
        port = self.port_spin.value()
        existing = self._plugin.find_session(host, port, user)
        if existing is not None:
            self._done(existing['info'], existing['whoami'], 'Already logged in.')
            return
        params = {'host': host, 'port': port}
        if self._selected:
            params['label'] = self._selected['instanceName']
            params['announcedFingerprint'] = self._selected['fingerprint']
        self._set_busy(True, 'Connecting to {}:{}…'.format(host, port))
        self._plugin.set_confirm_parent(self.window())
        self._plugin.call(Method.SESSION_OPEN, params,
                          on_result=lambda info: self._logging_in(info, user, password),
                          on_error=self._fail_with)

    def _logging_in(self, info, user, password):
        self._set_busy(True, 'Logging in as {}…'.format(user))
        params = {'session': info['session'], 'user': user}
        if password:
            params['password'] = password

        def failed(error):
            self._plugin.call(Method.SESSION_CLOSE, {'session': info['session']}, quiet=True)
            self._fail_with(error)

        self._plugin.call(Method.SESSION_LOGIN, params,
                          on_result=lambda result: self._logged_in(result, bool(password)),
                          on_error=failed)

    def _logged_in(self, result, with_password):
        info, whoami = result['info'], result['whoami']
        self._plugin.set_conf('last_host', info['host'])
        self._plugin.set_conf('last_port', info['port'])
        self._plugin.set_conf('last_user', info['user'])
        self.password_edit.clear()
        if with_password and self.remember_key_check.isChecked():
            self._set_busy(True, 'Saving a key for later logins…')

            def saved(key):
                self._plugin.key_fingerprint = key['fingerprint']
                self.status_label.setToolTip('Key fingerprint: ' + key['fingerprint'])
                self._done(info, whoami, 'Logged in. Later logins use the key saved on this computer.')

            def not_saved(error):
                self._done(info, whoami, 'Logged in, but the key was not saved: ' + error.message)

            self._plugin.call(Method.SESSION_SAVE_KEY, {'session': info['session']}, on_result=saved, on_error=not_saved)
        else:
            self._done(info, whoami, 'Logged in{}.'.format(' with the saved key' if result['method'] == AuthMethod.PUBLIC_KEY else ''))

    def _done(self, info, whoami, text):
        self._set_busy(False, text)
        self._plugin.add_session(info, whoami)
        self.sig_logged_in.emit(info, whoami)

    def _fail_with(self, error):
        focus = self.password_edit if error.code in _PASSWORD_ERRORS else None
        self._fail(error.message, focus)

    def _fail(self, text, focus=None):
        self._set_busy(False, '')
        self.last_error = show_error(self.window(), text)
        if focus is not None:
            focus.setFocus()
            focus.selectAll()

    def _set_busy(self, busy, text):
        for widget in (self.servers_list, self.host_edit, self.port_spin, self.user_edit,
                       self.password_edit, self.remember_key_check, self.login_button):
            widget.setEnabled(not busy)
        self.status_label.setText(text)
        self.sig_busy.emit(busy)


def _local_user():
    try:
        return getpass.getuser()
    except Exception:  # getpass raises various errors when there is no user name
        return ''
