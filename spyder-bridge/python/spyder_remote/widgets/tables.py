"""Environment and kernel lists, as both dialogs show them."""

from qtpy.QtCore import Qt
from qtpy.QtWidgets import QAbstractItemView, QTreeWidget, QTreeWidgetItem

from spyder.utils.icon_manager import ima


def _tree(columns, object_name):
    tree = QTreeWidget()
    tree.setObjectName(object_name)
    tree.setHeaderLabels(columns)
    tree.setRootIsDecorated(False)
    tree.setUniformRowHeights(True)
    tree.setSelectionMode(QAbstractItemView.SingleSelection)
    tree.setAlternatingRowColors(True)
    tree.header().setStretchLastSection(True)
    return tree


class EnvironmentTree:
    """Environments, with the ones Spyder cannot use greyed out and the reason beside them."""

    COLUMNS = ['Environment', 'Kind', 'Python', 'spyder-kernels', 'Spyder can use it?', 'Location']

    def __init__(self, selectable_unusable=False):
        self.widget = _tree(self.COLUMNS, 'spyder_remote_environments')
        # The administration dialog manages unusable environments too.
        self._selectable_unusable = selectable_unusable
        self._environments = {}

    def set_environments(self, environments):
        selected = self.selected()
        self._environments = {environment['id']: environment for environment in environments}
        self.widget.clear()
        # Usable first; within each, the user's own environments before system interpreters.
        ordered = sorted(environments, key=lambda environment: (
            not environment['usable'], environment['kind'] == 'system', environment['name'].lower()))
        for environment in ordered:
            item = QTreeWidgetItem([
                environment['name'], environment['kind'], environment.get('pythonVersion', '?'),
                environment.get('spyderKernels', '—'),
                'yes' if environment['usable'] else 'no: ' + environment['reason'],
                environment['prefix'],
            ])
            item.setData(0, Qt.UserRole, environment['id'])
            item.setIcon(0, ima.icon('environment'))
            if not environment['usable']:
                item.setToolTip(0, environment['reason'])
                item.setToolTip(4, environment['reason'])
                if not self._selectable_unusable:
                    item.setFlags(Qt.NoItemFlags)
            self.widget.addTopLevelItem(item)
            if selected and environment['id'] == selected['id']:
                self.widget.setCurrentItem(item)
        self._fit()

    def apply_change(self, change):
        environments = dict(self._environments)
        for environment in change['added'] + change['changed']:
            environments[environment['id']] = environment
        for removed in change['removed']:
            environments.pop(removed, None)
        self.set_environments(list(environments.values()))

    def selected(self):
        item = self.widget.currentItem()
        if item is None or not item.isSelected():
            return None
        return self._environments.get(item.data(0, Qt.UserRole))

    def select(self, environment_id):
        for index in range(self.widget.topLevelItemCount()):
            item = self.widget.topLevelItem(index)
            if item.data(0, Qt.UserRole) == environment_id and item.flags() & Qt.ItemIsEnabled:
                self.widget.setCurrentItem(item)
                return True
        return False

    def item_for(self, name):
        for index in range(self.widget.topLevelItemCount()):
            item = self.widget.topLevelItem(index)
            if item.text(0) == name:
                return item
        return None

    def _fit(self):
        for column in range(len(self.COLUMNS) - 1):
            self.widget.resizeColumnToContents(column)


class KernelTree:
    """The user's running kernels on the server, whoever started them; those Spyder cannot use greyed out, with the reason."""

    COLUMNS = ['Kernel', 'Environment', 'State', 'Process', 'Started', 'Spyder can use it?']

    def __init__(self, selectable_unusable=False):
        self.widget = _tree(self.COLUMNS, 'spyder_remote_kernels')
        # The administration dialog stops and restarts unusable kernels too.
        self._selectable_unusable = selectable_unusable
        self._kernels = {}

    def set_kernels(self, kernels):
        selected = self.selected()
        self._kernels = {kernel['id']: kernel for kernel in kernels}
        self.widget.clear()
        for kernel in sorted(kernels, key=lambda kernel: kernel['startedAt'], reverse=True):
            item = QTreeWidgetItem([
                kernel['id'], kernel['environment']['name'], kernel['state'],
                str(kernel.get('pid', '')), kernel['startedAt'].replace('T', ' ')[:19],
                'yes' if kernel['usable'] else 'no: ' + kernel['reason'],
            ])
            item.setData(0, Qt.UserRole, kernel['id'])
            item.setIcon(0, ima.icon('ipython_console'))
            item.setToolTip(1, kernel['environment']['prefix'])
            if not kernel['usable']:
                item.setToolTip(0, kernel['reason'])
                item.setToolTip(5, kernel['reason'])
                if not self._selectable_unusable:
                    item.setFlags(Qt.NoItemFlags)
            self.widget.addTopLevelItem(item)
            if selected and kernel['id'] == selected['id']:
                self.widget.setCurrentItem(item)
        for column in range(len(self.COLUMNS)):
            self.widget.resizeColumnToContents(column)

    def set_state(self, kernel_id, state):
        kernel = self._kernels.get(kernel_id)
        if kernel is None:
            return
        kernel['state'] = state
        for index in range(self.widget.topLevelItemCount()):
            item = self.widget.topLevelItem(index)
            if item.data(0, Qt.UserRole) == kernel_id:
                item.setText(2, state)

    def remove(self, kernel_id):
        if self._kernels.pop(kernel_id, None) is not None:
            self.set_kernels(list(self._kernels.values()))

    def kernels(self):
        return list(self._kernels.values())

    def selected(self):
        item = self.widget.currentItem()
        if item is None or not item.isSelected():
            return None
        return self._kernels.get(item.data(0, Qt.UserRole))

    def select(self, kernel_id):
        for index in range(self.widget.topLevelItemCount()):
            item = self.widget.topLevelItem(index)
            if item.data(0, Qt.UserRole) == kernel_id and item.flags() & Qt.ItemIsEnabled:
                self.widget.setCurrentItem(item)
                return True
        return False

    def item_for(self, kernel_id):
        for index in range(self.widget.topLevelItemCount()):
            item = self.widget.topLevelItem(index)
            if item.data(0, Qt.UserRole) == kernel_id:
                return item
        return None
