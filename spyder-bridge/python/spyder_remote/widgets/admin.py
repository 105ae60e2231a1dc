"""
"Administer remote…": the server (version, fingerprint, who you are there),
your environments (create, remove, install and uninstall packages, with the
tool's output as it runs) and your running kernels (interrupt, restart,
shut down).
"""

import re
import uuid

from qtpy.QtCore import Qt
from qtpy.QtGui import QFont
from qtpy.QtWidgets import (
    QComboBox, QDialog, QDialogButtonBox, QFormLayout, QGroupBox, QHBoxLayout,
    QLabel, QLineEdit, QPlainTextEdit, QProgressBar, QPushButton, QTabWidget,
    QVBoxLayout, QWidget)

from spyder.utils.icon_manager import ima

from spyder_remote.bridge_protocol import EnvironmentKind, Method
from spyder_remote.widgets.login import LoginPanel
from spyder_remote.widgets.messages import ask, show_error
from spyder_remote.widgets.style import fit_to_label
from spyder_remote.widgets.tables import EnvironmentTree, KernelTree


class LoginDialog(QDialog):
    """The login part of "Connect to remote…" on its own, to add a server here."""

    def __init__(self, plugin, parent=None):
        super().__init__(parent)
        self.setObjectName('spyder_remote_login_dialog')
        self.setWindowTitle('Log in to a spyder-remote server')
        self.login_panel = LoginPanel(plugin, self)
        self.login_panel.sig_logged_in.connect(lambda *_args: self.accept())
        layout = QVBoxLayout(self)
        layout.addWidget(self.login_panel)
        buttons = QDialogButtonBox(QDialogButtonBox.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.finished.connect(lambda _result: self.login_panel.stop_discovery())
        self.login_panel.start_discovery()
        self.resize(620, 360)


class AdminDialog(QDialog):

    def __init__(self, plugin, parent=None):
        super().__init__(parent)
        self.setObjectName('spyder_remote_admin')
        self.setWindowTitle('Administer remote')
        self.setWindowIcon(ima.icon('configure'))
        self._plugin = plugin
        self.session = None
        self.operation = None
        self._request = None
        self.last_error = None
        self.question = None
        self.login_dialog = None

        # ---- Server
        self.session_combo = QComboBox()
        self.session_combo.setObjectName('spyder_remote_sessions')
        self.session_combo.currentIndexChanged.connect(self._on_session_chosen)
        self.add_server_button = QPushButton(ima.icon('lock'), 'Log in to another server…')
        self.add_server_button.clicked.connect(self.show_login)
        server_row = QHBoxLayout()
        server_row.addWidget(self.session_combo, 1)
        server_row.addWidget(self.add_server_button)
        self.version_label = QLabel()
        self.fingerprint_label = QLabel()
        mono = QFont('monospace')
        mono.setStyleHint(QFont.TypeWriter)
        self.fingerprint_label.setFont(mono)
        self.user_label = QLabel()
        for label in (self.version_label, self.fingerprint_label, self.user_label):
            label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        server_group = QGroupBox('Server')
        server_form = QFormLayout(server_group)
        server_form.addRow('Connection:', server_row)
        server_form.addRow('Version:', self.version_label)
        server_form.addRow('Fingerprint:', self.fingerprint_label)
        server_form.addRow('Logged in as:', self.user_label)

        # ---- Environments
        self.environments = EnvironmentTree(selectable_unusable=True)
        self.environments.widget.itemSelectionChanged.connect(self._update_buttons)
        self.new_name_edit = QLineEdit()
        self.new_name_edit.setPlaceholderText('name')
        self.new_kind_combo = QComboBox()
        self.new_kind_combo.addItems([EnvironmentKind.VENV, EnvironmentKind.CONDA])
        self.new_packages_edit = QLineEdit()
        self.new_packages_edit.setPlaceholderText('packages to install (optional), e.g. spyder-kernels==2.4.* numpy')
        self.create_button = QPushButton(ima.icon('edit_add'), 'Create')
        self.create_button.clicked.connect(self.create_environment)
        create_row = QHBoxLayout()
        create_row.addWidget(QLabel('New environment:'))
        create_row.addWidget(self.new_name_edit, 1)
        create_row.addWidget(self.new_kind_combo)
        create_row.addWidget(self.new_packages_edit, 2)
        create_row.addWidget(self.create_button)

        self.packages_edit = QLineEdit()
        self.packages_edit.setPlaceholderText('packages, e.g. numpy pandas>=2')
        self.install_button = QPushButton('Install')
        self.install_button.clicked.connect(lambda: self.change_packages(Method.ENVIRONMENT_INSTALL))
        self.uninstall_button = QPushButton('Uninstall')
        self.uninstall_button.clicked.connect(lambda: self.change_packages(Method.ENVIRONMENT_UNINSTALL))
        self.remove_button = QPushButton(ima.icon('stop'), 'Remove environment…')
        self.remove_button.clicked.connect(self.remove_environment)
        selected_row = QHBoxLayout()
        selected_row.addWidget(QLabel('Selected environment:'))
        selected_row.addWidget(self.packages_edit, 1)
        selected_row.addWidget(self.install_button)
        selected_row.addWidget(self.uninstall_button)
        selected_row.addWidget(self.remove_button)

        self.progress_bar = QProgressBar()
        self.progress_bar.setTextVisible(True)
        self.progress_bar.setRange(0, 1)
        self.progress_bar.setValue(0)
        self.progress_bar.setFormat('')
        self.cancel_button = QPushButton('Cancel')
        self.cancel_button.setEnabled(False)
        fit_to_label(self.cancel_button)
        self.cancel_button.clicked.connect(self.cancel_operation)
        progress_row = QHBoxLayout()
        progress_row.addWidget(self.progress_bar, 1)
        progress_row.addWidget(self.cancel_button)
        self.output_view = QPlainTextEdit()
        self.output_view.setObjectName('spyder_remote_output')
        self.output_view.setReadOnly(True)
        self.output_view.setFont(mono)
        self.output_view.setMaximumBlockCount(2000)
        self.output_view.setPlaceholderText('What the tool prints while it works appears here.')

        environments_tab = QWidget()
        environments_layout = QVBoxLayout(environments_tab)
        environments_layout.addWidget(self.environments.widget, 3)
        environments_layout.addLayout(selected_row)
        environments_layout.addLayout(create_row)
        environments_layout.addLayout(progress_row)
        environments_layout.addWidget(self.output_view, 2)

        # ---- Kernels
        self.kernels = KernelTree(selectable_unusable=True)
        self.kernels.widget.itemSelectionChanged.connect(self._update_buttons)
        self.interrupt_button = QPushButton(ima.icon('stop_debug'), 'Interrupt')
        self.interrupt_button.clicked.connect(lambda: self.kernel_action(Method.KERNEL_INTERRUPT))
        self.restart_button = QPushButton(ima.icon('restart'), 'Restart')
        self.restart_button.clicked.connect(lambda: self.kernel_action(Method.KERNEL_RESTART))
        self.shutdown_button = QPushButton(ima.icon('stop'), 'Shut down…')
        self.shutdown_button.clicked.connect(lambda: self.kernel_action(Method.KERNEL_SHUTDOWN))
        self.refresh_button = QPushButton(ima.icon('refresh'), 'Refresh')
        self.refresh_button.clicked.connect(self.refresh)
        kernel_buttons = QHBoxLayout()
        for button in (self.interrupt_button, self.restart_button, self.shutdown_button):
            kernel_buttons.addWidget(button)
        kernel_buttons.addStretch(1)
        kernel_buttons.addWidget(self.refresh_button)
        self.kernel_status = QLabel()
        kernels_tab = QWidget()
        kernels_layout = QVBoxLayout(kernels_tab)
        kernels_layout.addWidget(self.kernels.widget, 1)
        kernels_layout.addLayout(kernel_buttons)
        kernels_layout.addWidget(self.kernel_status)

        self.tabs = QTabWidget()
        self.tabs.addTab(environments_tab, ima.icon('environment'), 'Environments')
        self.tabs.addTab(kernels_tab, ima.icon('ipython_console'), 'Kernels')

        buttons = QDialogButtonBox(QDialogButtonBox.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(server_group)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(buttons)
        self.resize(1100, 700)

        plugin.sig_bridge_notification.connect(self._on_notification)
        plugin.sig_sessions_changed.connect(self._fill_sessions)
        self.finished.connect(self._on_finished)
        self._fill_sessions()

    # ---- Sessions
    def _fill_sessions(self):
        current = self.session['session'] if self.session else None
        self.session_combo.blockSignals(True)
        self.session_combo.clear()
        for entry in self._plugin.sessions.values():
            info = entry['info']
            self.session_combo.addItem('{}@{}  ({}:{})'.format(info['user'], info['label'], info['host'], info['port']), info['session'])
        self.session_combo.blockSignals(False)
        if not self._plugin.sessions:
            self._show_session(None)
            return
        index = self.session_combo.findData(current) if current else -1
        self.session_combo.setCurrentIndex(index if index >= 0 else self.session_combo.count() - 1)
        self._on_session_chosen()

    def _on_session_chosen(self, *_args):
        entry = self._plugin.sessions.get(self.session_combo.currentData())
        self._show_session(entry)

    def _show_session(self, entry):
        self.session = entry['info'] if entry else None
        self.tabs.setEnabled(entry is not None)
        if entry is None:
            self.version_label.setText('Not logged in to any server yet: log in first.')
            self.fingerprint_label.setText('')
            self.user_label.setText('')
            self.environments.set_environments([])
            self.kernels.set_kernels([])
            self._update_buttons()
            return
        info, whoami = entry['info'], entry['whoami']
        self.version_label.setText('{} {}'.format(info['serverName'], info['serverVersion']))
        self.fingerprint_label.setText(info['fingerprint'])
        groups = ', '.join(group.get('name') or str(group['gid']) for group in whoami['groups'])
        self.user_label.setText('{} (uid {}, groups {}), home {}'.format(whoami['user'], whoami['uid'], groups, whoami['home']))
        self.refresh()

    def show_login(self):
        self.login_dialog = LoginDialog(self._plugin, self)
        self.login_dialog.open()

    def refresh(self):
        if self.session is None:
            return
        session = {'session': self.session['session']}
        self._plugin.call(Method.ENVIRONMENT_LIST, session,
                          on_result=lambda result: (self.environments.set_environments(result['environments']), self._update_buttons()),
                          on_error=self._show_error)
        self._plugin.call(Method.KERNEL_LIST, session,
                          on_result=lambda result: (self.kernels.set_kernels(result['kernels']), self._update_buttons()),
                          on_error=self._show_error)

    def _on_notification(self, method, params):
        if method == Method.OPERATION_PROGRESS and self.operation and params['operation'] == self.operation:
            self._on_progress(params)
            return
        if self.session is None or params.get('session') != self.session['session']:
            return
        if method == Method.ENVIRONMENT_DID_CHANGE:
            self.environments.apply_change(params)
            self._update_buttons()
        elif method == Method.KERNEL_DID_CHANGE_STATE:
            self.kernels.set_state(params['id'], params['state'])
            self._update_buttons()
        elif method == Method.KERNEL_DID_EXIT and not params['restarting']:
            self.kernels.remove(params['id'])
            self._update_buttons()

    # ---- Environments
    def create_environment(self):
        name = self.new_name_edit.text().strip()
        if not name:
            self._show_message('Give the new environment a name.')
            return
        params = {'name': name, 'kind': self.new_kind_combo.currentText(), 'packages': _split_packages(self.new_packages_edit.text())}

        def after(_result):
            self.new_name_edit.clear()
            self.new_packages_edit.clear()

        self._run(Method.ENVIRONMENT_CREATE, params, 'Creating {}'.format(name), after=after)

    def remove_environment(self):
        environment = self.environments.selected()
        if environment is None:
            return
        self.question = ask(
            self, 'Remove the environment {} ({}) from the server, with everything installed in it? '
                  'This cannot be undone.'.format(environment['name'], environment['prefix']),
            lambda: self._run(Method.ENVIRONMENT_REMOVE, {'id': environment['id']}, 'Removing {}'.format(environment['name'])))

    def change_packages(self, method):
        environment = self.environments.selected()
        packages = _split_packages(self.packages_edit.text())
        installing = method == Method.ENVIRONMENT_INSTALL
        if environment is None or not packages:
            self._show_message('Select an environment and name the packages to {}.'.format('install' if installing else 'uninstall'))
            return
        title = '{} {} in {}'.format('Installing' if installing else 'Uninstalling', ' '.join(packages), environment['name'])
        self._run(method, {'id': environment['id'], 'packages': packages}, title,
                  after=lambda _result: self.packages_edit.clear())

    def _run(self, method, params, title, after=None):
        if self.operation is not None:
            self._show_message('Another operation is still running; wait for it or cancel it.')
            return
        self.operation = uuid.uuid4().hex
        self.output_view.clear()
        self.output_view.appendPlainText('$ ' + title)
        self.progress_bar.setRange(0, 0)
        self.progress_bar.setFormat(title + '…')
        self.cancel_button.setEnabled(True)
        self._update_buttons()
        full = dict(params, session=self.session['session'], operation=self.operation)

        def done(result):
            self._finish_operation(title + ': done.')
            if after is not None:
                after(result)

        def failed(error):
            self._finish_operation(title + ': failed.')
            self._show_error(error)

        self._request = self._plugin.call(method, full, on_result=done, on_error=failed)

    def _on_progress(self, progress):
        if progress.get('message'):
            for line in progress['message'].splitlines():
                self.output_view.appendPlainText(line)
        percentage = progress.get('percentage')
        if percentage is not None:
            self.progress_bar.setRange(0, 100)
            self.progress_bar.setValue(int(percentage))

    def _finish_operation(self, text):
        self.operation = None
        self._request = None
        self.output_view.appendPlainText(text)
        self.progress_bar.setRange(0, 1)
        self.progress_bar.setValue(1)
        self.progress_bar.setFormat(text)
        self.cancel_button.setEnabled(False)
        self._update_buttons()

    def cancel_operation(self):
        if self._request is not None:
            self._plugin.cancel(self._request)
            self.cancel_button.setEnabled(False)

    # ---- Kernels
    def kernel_action(self, method):
        kernel = self.kernels.selected()
        if kernel is None:
            return
        params = {'session': self.session['session'], 'id': kernel['id']}
        doing, done_text = _KERNEL_ACTIONS[method]

        def done(_result):
            self.kernel_status.setText('{} kernel {}.'.format(done_text, kernel['id']))
            self.refresh()

        def run():
            self.kernel_status.setText('{} kernel {}…'.format(doing, kernel['id']))
            self._plugin.call(method, params, on_result=done, on_error=self._show_error)

        if method == Method.KERNEL_SHUTDOWN:
            self.question = ask(self, 'Shut down kernel {} in {}? Its variables are lost, and consoles on it stop '
                                      'working.'.format(kernel['id'], kernel['environment']['name']), run)
        else:
            run()

    # ---- Helpers
    def _update_buttons(self):
        idle = self.operation is None and self.session is not None
        environment = self.environments.selected()
        manageable = environment is not None and environment.get('manageable', False)
        self.create_button.setEnabled(idle)
        for button in (self.install_button, self.uninstall_button, self.remove_button):
            button.setEnabled(idle and manageable)
        kernel = self.kernels.selected() is not None
        for button in (self.interrupt_button, self.restart_button, self.shutdown_button):
            button.setEnabled(kernel)

    def _show_error(self, error):
        self.last_error = show_error(self, error.message)

    def _show_message(self, text):
        self.last_error = show_error(self, text)

    def _on_finished(self, _result):
        for signal, slot in ((self._plugin.sig_bridge_notification, self._on_notification),
                             (self._plugin.sig_sessions_changed, self._fill_sessions)):
            try:
                signal.disconnect(slot)
            except (RuntimeError, TypeError):
                pass


# What the Kernels tab says while and after it asks the server.
_KERNEL_ACTIONS = {
    Method.KERNEL_INTERRUPT: ('Interrupt', 'Interrupted'),
    Method.KERNEL_RESTART: ('Restart', 'Restarted'),
    Method.KERNEL_SHUTDOWN: ('Shutdown', 'Shut down'),
}


def _split_packages(text):
    return [package for package in re.split(r'\s+', text.strip()) if package]
