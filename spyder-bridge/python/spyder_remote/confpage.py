"""The plugin's page in Spyder's Preferences."""

import os.path as osp

from qtpy.QtWidgets import QGroupBox, QLabel, QVBoxLayout

from spyder.api.preferences import PluginConfigPage


class SpyderRemoteConfigPage(PluginConfigPage):

    def setup_page(self):
        bridge_group = QGroupBox('Bridge')
        intro = QLabel(
            'The plugin runs spyder-remote-bridge, which needs Node.js 20 or newer. '
            'Leave the paths empty to use spyder-remote-bridge and node from the PATH, '
            'or else the bridge built in the repository this plugin was installed from.')
        intro.setWordWrap(True)
        bridge = self.create_browsefile('Bridge:', 'bridge_path', tip='spyder-remote-bridge, or its .js file')
        node = self.create_browsefile('Node.js:', 'node_path')
        self._allow_empty_paths('bridge_path', 'node_path')
        bridge_layout = QVBoxLayout(bridge_group)
        bridge_layout.addWidget(intro)
        bridge_layout.addWidget(bridge)
        bridge_layout.addWidget(node)

        network_group = QGroupBox('Servers and kernels')
        interfaces = self.create_lineedit(
            'Look for servers on these interfaces only (comma-separated, empty for all):',
            'discovery_interfaces', placeholder='e.g. eth0, wlan0')
        stop = self.create_checkbox(
            'Stop the remote kernels of my consoles when Spyder exits',
            'stop_kernels_on_exit',
            tip='Otherwise they keep running on the server (for as long as its lease allows), '
                'and "Connect to remote…" re-attaches to them.')
        network_layout = QVBoxLayout(network_group)
        network_layout.addWidget(interfaces)
        network_layout.addWidget(stop)

        layout = QVBoxLayout()
        layout.addWidget(bridge_group)
        layout.addWidget(network_group)
        layout.addStretch(1)
        self.setLayout(layout)

    def _allow_empty_paths(self, *options):
        # Spyder checks a browse field with osp.isfile, and refuses to apply
        # the page, check boxes included, while a field is empty; empty means
        # "look on PATH" here.
        for edit, (_section, option, _default) in self.lineedits.items():
            if option in options:
                self.validate_data[edit] = (lambda text: not text.strip() or osp.isfile(text), 'No such file')
