"""
"Connect to remote…": find a server, log in, pick an environment (or a
running kernel to re-attach to), where to run it (this server, or a Slurm
partition when the server offers one), and get a console on it.
"""

from qtpy.QtWidgets import (
    QComboBox, QDialog, QDialogButtonBox, QGroupBox, QHBoxLayout, QLabel,
    QPushButton, QSplitter, QVBoxLayout)
from qtpy.QtCore import Qt

from spyder.utils.icon_manager import ima

from spyder_remote.bridge_protocol import ErrorCode, Method
from spyder_remote.widgets.login import LoginPanel
from spyder_remote.widgets.messages import show_error
from spyder_remote.widgets.tables import EnvironmentTree, KernelTree


class ConnectDialog(QDialog):

    def __init__(self, plugin, parent=None):
        super().__init__(parent)
        self.setObjectName('spyder_remote_connect')
        self.setWindowTitle('Connect to remote')
        self.setWindowIcon(ima.icon('ipython_console'))
        self._plugin = plugin
        self.session = None
        self.opened = None
        self.last_error = None

        self.login_panel = LoginPanel(plugin, self)
        self.login_panel.sig_logged_in.connect(self._on_logged_in)
        login_group = QGroupBox('1. Server and login')
        QVBoxLayout(login_group).addWidget(self.login_panel)

        self.environments = EnvironmentTree()
        self.environments.widget.itemSelectionChanged.connect(self._on_environment_selected)
        self.environments.widget.itemDoubleClicked.connect(lambda *_args: self.open_console())
        self.kernels = KernelTree()
        self.kernels.widget.itemSelectionChanged.connect(self._on_kernel_selected)
        self.kernels.widget.itemDoubleClicked.connect(lambda *_args: self.open_console())

        # Where a new kernel runs: filled from the server's capabilities after login.
        self.placement_combo = QComboBox()
        self.placement_combo.setObjectName('spyder_remote_placement')
        self.placement_combo.addItem('this server', None)
        placement_row = QHBoxLayout()
        placement_row.addWidget(QLabel('Run on:'))
        placement_row.addWidget(self.placement_combo, 1)

        environment_group = QGroupBox('2. A new console in one of your environments')
        environment_layout = QVBoxLayout(environment_group)
        environment_layout.addWidget(self.environments.widget)
        environment_layout.addLayout(placement_row)
        kernel_group = QGroupBox('… or a console on one of your running kernels')
        kernel_layout = QVBoxLayout(kernel_group)
        kernel_layout.addWidget(self.kernels.widget)
        self.choice_splitter = QSplitter(Qt.Vertical)
        self.choice_splitter.addWidget(environment_group)
        self.choice_splitter.addWidget(kernel_group)
        self.choice_splitter.setStretchFactor(0, 3)
        self.choice_splitter.setStretchFactor(1, 2)
        self.choice_splitter.setMinimumHeight(330)
        self.choice_splitter.setEnabled(False)

        self.status_label = QLabel('Log in to see your environments and kernels.')
        self.status_label.setWordWrap(True)
        self.buttons = QDialogButtonBox()
        self.open_button = QPushButton(ima.icon('ipython_console'), 'Open console')
        self.open_button.setObjectName('spyder_remote_open')
        self.open_button.setEnabled(False)
        self.open_button.clicked.connect(self.open_console)
        self.buttons.addButton(self.open_button, QDialogButtonBox.ActionRole)
        self.buttons.addButton(QDialogButtonBox.Close).clicked.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(login_group)
        layout.addWidget(self.choice_splitter, 1)
        layout.addWidget(self.status_label)
        layout.addWidget(self.buttons)
        self.resize(1120, 800)

        plugin.sig_bridge_notification.connect(self._on_notification)
        self.finished.connect(self._on_finished)
        self.login_panel.start_discovery()

    # ---- After login
    def _on_logged_in(self, info, whoami):
        self.session = info
        self.status_label.setText('Logged in to {} as {} (uid {}).'.format(info['label'], whoami['user'], whoami['uid']))
        self.choice_splitter.setEnabled(True)
        self.refresh()
        self._plugin.call(Method.SESSION_CAPABILITIES, {'session': info['session']},
                          on_result=self._set_placements, on_error=lambda _error: None)

    def _set_placements(self, capabilities):
        """One entry per Slurm partition the user sees, with its limits."""
        slurm = capabilities.get('slurm', {})
        while self.placement_combo.count() > 1:
            self.placement_combo.removeItem(1)
        if not slurm.get('available'):
            return
        for partition in slurm.get('partitions', []):
            label = 'Slurm partition {} (time limit {}, {} CPUs on {} node{}{})'.format(
                partition['name'], partition['maxTime'], partition['cpus'], partition['nodes'],
                '' if partition['nodes'] == 1 else 's', ', default' if partition['default'] else '')
            self.placement_combo.addItem(label, {'kind': 'slurm', 'partition': partition['name']})

    def select_placement(self, partition):
        """Selects the Slurm partition of that name; False while it is not offered."""
        for index in range(self.placement_combo.count()):
            placement = self.placement_combo.itemData(index)
            if placement is not None and placement['partition'] == partition:
                self.placement_combo.setCurrentIndex(index)
                return True
        return False

    def refresh(self):
        session = {'session': self.session['session']}
        self._plugin.call(Method.ENVIRONMENT_LIST, session,
                          on_result=lambda result: self.environments.set_environments(result['environments']),
                          on_error=self._show_error)
        self._plugin.call(Method.KERNEL_LIST, session,
                          on_result=lambda result: self.kernels.set_kernels(result['kernels']),
                          on_error=self._show_error)

    def _on_notification(self, method, params):
        if self.session is None or params.get('session') != self.session['session']:
            return
        if method == Method.ENVIRONMENT_DID_CHANGE:
            self.environments.apply_change(params)
        elif method == Method.KERNEL_DID_CHANGE_STATE:
            self.kernels.set_state(params['id'], params['state'])
        elif method == Method.KERNEL_DID_EXIT and not params['restarting']:
            self.kernels.remove(params['id'])
        elif method == Method.KERNEL_DID_CHANGE_JOB:
            # A Slurm kernel waits in the queue: say so, with Slurm's reason, until it runs.
            job = params['job']
            reason = job.get('reason')
            self.status_label.setText('Slurm job {} {}{}{}…'.format(
                job['jobId'], job['phase'],
                ' ({})'.format(reason) if reason and reason != 'None' else '',
                ' on {}'.format(job['node']) if job.get('node') else ''))

    def _on_environment_selected(self):
        if self.environments.selected() is not None:
            self.kernels.widget.clearSelection()
        self._update_open_button()

    def _on_kernel_selected(self):
        if self.kernels.selected() is not None:
            self.environments.widget.clearSelection()
        self._update_open_button()

    def _update_open_button(self):
        environment, kernel = self.environments.selected(), self.kernels.selected()
        self.open_button.setEnabled(environment is not None or kernel is not None)
        self.open_button.setText('Re-attach console' if kernel is not None else 'Open console')

    # ---- The console
    def open_console(self):
        environment, kernel = self.environments.selected(), self.kernels.selected()
        if self.session is None or (environment is None and kernel is None):
            return
        self.open_button.setEnabled(False)
        session = self.session['session']
        if kernel is not None:
            self.status_label.setText('Re-attaching to kernel {}…'.format(kernel['id']))
            self._plugin.call(Method.KERNEL_ATTACH, {'session': session, 'id': kernel['id']},
                              on_result=self._on_kernel_ready, on_error=self._on_open_failed)
        else:
            self.status_label.setText('Starting a kernel in {}…'.format(environment['name']))
            params = {'session': session, 'environment': environment['id']}
            placement = self.placement_combo.currentData()
            if placement is not None:
                params['placement'] = placement
            self._plugin.call(Method.KERNEL_START, params,
                              on_result=self._on_kernel_ready, on_error=self._on_open_failed)

    def _on_kernel_ready(self, opened):
        client = self._plugin.consoles.open(opened, self.session['session'])
        if client is None:
            self._on_open_failed(None)
            return
        self.opened = opened
        self.accept()

    def _on_open_failed(self, error):
        self._update_open_button()
        self.status_label.setText('')
        if error is None:
            return
        self._show_error(error)
        if error.code == ErrorCode.KERNEL_INCOMPATIBLE:
            # The list was out of date: show the kernel greyed out, with the reason just given.
            self.status_label.setText(error.message)
            self.refresh()

    def _show_error(self, error):
        self.last_error = show_error(self, error.message)

    def _on_finished(self, _result):
        self.login_panel.stop_discovery()
        try:
            self._plugin.sig_bridge_notification.disconnect(self._on_notification)
        except (RuntimeError, TypeError):
            pass
