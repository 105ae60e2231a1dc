"""
The plugin in the real Spyder, against a real ssd-server and a real user:
run by test/spyder.test.ts, one test per Spyder run, in this order. The
environment must be set before this module is imported (Spyder reads it at
import): SPYDER_PYTEST, HOME, TMPDIR (Spyder's clean config dir lives
there under pytest), QT_QPA_PLATFORM and QTWEBENGINE_DISABLE_SANDBOX.
Parameters come as SSD_E2E_* variables.
"""

import json
import os
import os.path as osp
import re
import time

import pytest

# WebEngine must be imported before pytest-qt creates the QApplication.
from qtpy import QtWebEngineWidgets  # noqa: F401
from qtpy.QtCore import QPoint, QSize, Qt
from qtpy.QtGui import QPainter
from qtpy.QtWidgets import QApplication, QMessageBox

from spyder import __version__ as SPYDER_VERSION
from spyder.api.plugins import Plugins
from spyder.app import start

SERVER = {
    'host': os.environ.get('SSD_E2E_HOST', '127.0.0.1'),
    'port': int(os.environ.get('SSD_E2E_PORT', '0')),
    'fingerprint': os.environ.get('SSD_E2E_FINGERPRINT', ''),
    'instance': os.environ.get('SSD_E2E_INSTANCE', ''),
}
USER = {
    'name': os.environ.get('SSD_E2E_USER', ''),
    'password': os.environ.get('SSD_E2E_PASSWORD', ''),
    'uid': os.environ.get('SSD_E2E_UID', ''),
}
STATE_FILE = os.environ.get('SSD_E2E_STATE', '')
SCREENSHOTS = os.environ.get('SSD_E2E_SCREENSHOTS', '')
SLOW = 30000
SPYDER_MAJOR = int(SPYDER_VERSION.split('.')[0])
SPYDER_6 = SPYDER_MAJOR >= 6
# What the environment list must say an environment lacks, for each Spyder: its spyder-kernels range.
NEEDS = {'5.4': '>=2.4,<2.5', '6.0': '>=3.0,<3.1', '6.1': '>=3.1,<3.2'}[SPYDER_VERSION[:3]]


def picture_path(name):
    # docs/ keeps the 5.4 pictures as spyder-NAME.png, and each 6.x one as spyder-6.x-NAME.png.
    prefix = 'spyder' if not SPYDER_6 else 'spyder-' + SPYDER_VERSION[:3]
    return osp.join(SCREENSHOTS, '{}-{}.png'.format(prefix, name))


def shoot(widget, name):
    """A picture of a window for docs/, taken only when asked for."""
    if SCREENSHOTS:
        QApplication.processEvents()
        widget.grab().save(picture_path(name))


def shoot_with_popup(window, popup, corner, name):
    """
    The main window with a menu drawn as it pops up at `corner` (its
    top-left, in the window's coordinates) on a real screen: the offscreen
    platform's 800x600 screen would push it aside.
    """
    if not SCREENSHOTS:
        return
    QApplication.processEvents()
    picture = window.grab()
    painter = QPainter(picture)
    painter.drawPixmap(QPoint(corner.x(), min(corner.y(), window.height() - popup.height())), popup.grab())
    painter.end()
    picture.save(picture_path(name))


def texts(menu):
    return [action.text() for action in menu.get_actions() if hasattr(action, 'text')]


def check_menu_entries(qtbot, window, ipython_console):
    """
    Both entries follow "Connect to an existing kernel" wherever Spyder has
    it: the console's options menu in 5.x; the main Consoles menu and the
    tabs' context menu in 6.x.
    """
    widget = ipython_console.get_widget()
    if SPYDER_6:
        from spyder.plugins.mainmenu.api import ApplicationMenus
        consoles = window.get_plugin(Plugins.MainMenu).get_application_menu(ApplicationMenus.Consoles)
        menus = [consoles, widget.tabwidget.menu]
    else:
        menus = [widget.get_options_menu()]
    for menu in menus:
        # Spyder 6.1 renamed it "Connect to existing kernel...": look for the action itself.
        items = menu.get_actions()
        existing = items.index(widget.connect_to_kernel_action)
        listed = [item.text() for item in items[existing + 1:existing + 3]]
        assert listed == ['Connect to remote…', 'Administer remote…'], texts(menu)
    if SPYDER_6:
        bar = window.menuBar()
        corner = bar.mapTo(window, bar.actionGeometry(consoles.menuAction()).bottomLeft())
        popup = consoles
    else:
        button = widget._options_button
        popup = menus[0]
        corner = window.mapFromGlobal(button.mapToGlobal(QPoint(button.width(), button.height())))
        corner = QPoint(corner.x() - popup.width(), corner.y())
    popup.popup(window.mapToGlobal(corner))
    qtbot.waitUntil(popup.isVisible)
    assert 'Connect to remote…' in [action.text() for action in popup.actions()]
    shoot_with_popup(window, popup, corner, 'console-menu')
    popup.hide()


@pytest.fixture
def spyder(qtbot):
    """Spyder's real main window, its console ready; closed from inside afterwards."""
    window = start.main()
    window.resize(1600, 900)
    ipython_console = window.get_plugin(Plugins.IPythonConsole)
    qtbot.waitUntil(lambda: ipython_console.get_current_shellwidget() is not None
                    and ipython_console.get_current_shellwidget()._prompt_html is not None, timeout=SLOW)
    plugin = window.get_plugin('spyder_remote')
    plugin.set_conf('discovery_interfaces', 'lo')
    yield window, ipython_console, plugin
    window.close()


def console_text(shellwidget):
    return shellwidget._control.toPlainText()


def run(qtbot, shellwidget, code, expect, timeout=SLOW):
    """Execute in the console; wait until its text matches `expect`."""
    before = len(console_text(shellwidget))
    qtbot.waitUntil(lambda: not shellwidget._executing, timeout=timeout)
    shellwidget.execute(code)
    qtbot.waitUntil(lambda: re.search(expect, console_text(shellwidget)[before:]) is not None, timeout=timeout)
    return console_text(shellwidget)[before:]


def variable(window, name):
    browser = window.get_plugin(Plugins.VariableExplorer).current_widget()
    return (browser.editor.source_model.get_data() or {}).get(name) if browser and browser.editor else None


def log_in(qtbot, plugin, dialog, password):
    """Through the dialog's own widgets: the discovered server, then user and password."""
    panel = dialog.login_panel
    qtbot.waitUntil(lambda: panel.select_server(SERVER['instance']), timeout=SLOW)
    assert panel.host_edit.text() == SERVER['host']
    assert panel.port_spin.value() == SERVER['port']
    panel.user_edit.setText(USER['name'])
    panel.password_edit.setText(password)
    panel.remember_key_check.setChecked(bool(password))
    return panel


def open_remote_console(qtbot, ipython_console, dialog):
    """Click "Open console" (or "Re-attach console") and return the new console's client."""
    before = set(id(client) for client in ipython_console.get_clients())
    qtbot.waitUntil(dialog.open_button.isEnabled)
    qtbot.mouseClick(dialog.open_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: any(id(client) not in before for client in ipython_console.get_clients()), timeout=SLOW)
    client = [client for client in ipython_console.get_clients() if id(client) not in before][0]
    qtbot.waitUntil(lambda: client.shellwidget._prompt_html is not None and client.shellwidget.is_spyder_kernel, timeout=SLOW)
    return client


def tab_text(ipython_console, client):
    widget = ipython_console.get_widget()
    return widget.tabwidget.tabText(widget.tabwidget.indexOf(client))


def test_connect_work_and_leave(qtbot, spyder):
    window, ipython_console, plugin = spyder

    check_menu_entries(qtbot, window, ipython_console)

    # "Connect to remote…": the server comes from discovery; a first contact asks about its fingerprint.
    plugin.connect_action.trigger()
    dialog = plugin.connect_dialog
    qtbot.waitUntil(dialog.isVisible)
    panel = log_in(qtbot, plugin, dialog, 'not the password')
    qtbot.mouseClick(panel.login_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: plugin.fingerprint_dialog is not None and plugin.fingerprint_dialog.isVisible(), timeout=SLOW)
    assert plugin.fingerprint_dialog.fingerprint_label.text() == SERVER['fingerprint']
    shoot(plugin.fingerprint_dialog, 'fingerprint')
    qtbot.mouseClick(plugin.fingerprint_dialog.trust_button, Qt.LeftButton)
    # A wrong password is a sentence in a Spyder dialog, and the password field gets the focus.
    qtbot.waitUntil(lambda: panel.last_error is not None and panel.last_error.isVisible(), timeout=SLOW)
    assert 'user name or password is wrong' in panel.last_error.text()
    panel.last_error.done(QMessageBox.Ok)
    panel.password_edit.setText(USER['password'])
    qtbot.mouseClick(panel.login_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: dialog.session is not None, timeout=SLOW)
    assert not plugin.fingerprint_dialog.isVisible(), 'asked once: the fingerprint is pinned now'
    qtbot.waitUntil(lambda: plugin.key_fingerprint is not None, timeout=SLOW)

    # Environments: the incompatible ones are disabled, with the reason.
    environments = dialog.environments
    qtbot.waitUntil(lambda: environments.widget.topLevelItemCount() >= 3, timeout=SLOW)
    old = environments.item_for('analysis-2023')
    assert not old.flags() & Qt.ItemIsEnabled
    assert old.text(4) == 'no: spyder-kernels 2.3.3 found, Spyder {} needs {}'.format(SPYDER_VERSION[:3], NEEDS)
    bare = environments.item_for('bare')
    assert not bare.flags() & Qt.ItemIsEnabled
    assert 'spyder-kernels is not installed' in bare.text(4)
    system = [environment for environment in environments._environments.values()
              if environment['kind'] == 'system' and environment['usable']][0]
    assert environments.select(system['id'])
    shoot(dialog, 'connect-dialog')

    # The console runs on the server as the user.
    client = open_remote_console(qtbot, ipython_console, dialog)
    assert not dialog.isVisible()
    assert tab_text(ipython_console, client).startswith('{}@{}/python3'.format(USER['name'], SERVER['instance']))
    shell = client.shellwidget
    run(qtbot, shell, 'import os; os.getuid()', r'Out\[\d+\]: {}\b'.format(USER['uid']))

    # The Variable Explorer sees the kernel's namespace: the comm port goes through the forwarder too.
    run(qtbot, shell, 'x = 42', r'In \[\d+\]')
    qtbot.waitUntil(lambda: (variable(window, 'x') or {}).get('view') == '42', timeout=SLOW)
    window.get_plugin(Plugins.VariableExplorer).switch_to_plugin()
    shoot(window, 'remote-console')

    # Spyder's own Interrupt stops a running loop (the server signals the kernel).
    before = len(console_text(shell))
    shell.execute('n = 0\nwhile True:\n    n += 1\n')
    qtbot.waitUntil(lambda: shell._executing)
    time.sleep(0.5)
    ipython_console.get_widget().interrupt_action.trigger()
    qtbot.waitUntil(lambda: 'KeyboardInterrupt' in console_text(shell)[before:] and not shell._executing, timeout=SLOW)
    run(qtbot, shell, 'n > 0', r'Out\[\d+\]: True')

    # "Administer remote…": the server, who we are, the environments and kernels.
    plugin.admin_action.trigger()
    admin = plugin.admin_dialog
    qtbot.waitUntil(admin.isVisible)
    assert admin.fingerprint_label.text() == SERVER['fingerprint']
    assert admin.version_label.text().startswith('ssd-server ')
    assert admin.user_label.text().startswith('{} (uid {}'.format(USER['name'], USER['uid']))
    qtbot.waitUntil(lambda: admin.kernels.widget.topLevelItemCount() == 1, timeout=SLOW)
    kernel_id = admin.kernels.kernels()[0]['id']
    assert kernel_id == plugin.consoles.kernel_of(client)

    admin.new_name_edit.setText('scratch')
    qtbot.mouseClick(admin.create_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: admin.environments.item_for('scratch') is not None and admin.operation is None, timeout=60000)
    assert admin.output_view.toPlainText().startswith('$ Creating scratch')
    assert 'Creating scratch: done.' in admin.output_view.toPlainText()
    shoot(admin, 'admin-environments')
    assert admin.environments.select(admin.environments.item_for('scratch').data(0, Qt.UserRole))
    qtbot.mouseClick(admin.remove_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: admin.question is not None and admin.question.isVisible())
    admin.question.button(QMessageBox.Yes).click()
    qtbot.waitUntil(lambda: admin.environments.item_for('scratch') is None and admin.operation is None, timeout=SLOW)

    admin.tabs.setCurrentIndex(1)
    assert admin.kernels.select(kernel_id)
    shoot(admin, 'admin-kernels')
    admin.close()

    with open(STATE_FILE, 'w') as state:
        json.dump({'kernel': kernel_id}, state)


def test_reopen_reattaches(qtbot, spyder):
    window, ipython_console, plugin = spyder
    with open(STATE_FILE) as state:
        kernel_id = json.load(state)['kernel']

    # The key saved last time logs in without a password, and the server is known: no question.
    plugin.connect_action.trigger()
    dialog = plugin.connect_dialog
    qtbot.waitUntil(dialog.isVisible)
    panel = log_in(qtbot, plugin, dialog, '')
    qtbot.waitUntil(lambda: plugin.key_fingerprint is not None, timeout=SLOW)
    qtbot.mouseClick(panel.login_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: dialog.session is not None, timeout=SLOW)
    assert plugin.fingerprint_dialog is None
    assert 'with the saved key' in panel.status_label.text()

    # The kernel of the last session is still running, with its variables.
    qtbot.waitUntil(lambda: dialog.kernels.select(kernel_id), timeout=SLOW)
    assert dialog.open_button.text() == 'Re-attach console'
    shoot(dialog, 'connect-reattach')
    client = open_remote_console(qtbot, ipython_console, dialog)
    run(qtbot, client.shellwidget, 'x', r'Out\[\d+\]: 42\b')
    qtbot.waitUntil(lambda: (variable(window, 'x') or {}).get('view') == '42', timeout=SLOW)

    # Spyder's own Restart: the server restarts the kernel under the same id; the console and the
    # Variable Explorer go on with a fresh namespace, and no "kernel died" message appears.
    shell = client.shellwidget
    restarts = console_text(shell).count('Restarting kernel...')
    ipython_console.get_widget().restart_action.trigger()
    # The line goes before the prompt, as with Spyder's own kernels.
    qtbot.waitUntil(lambda: console_text(shell).count('Restarting kernel...') > restarts, timeout=SLOW)
    # The prompt number starts again at 1, which rewrites text before run()'s offset: look for a marker instead.
    shell.execute("print('after restart:', 'x' in globals())")
    qtbot.waitUntil(lambda: 'after restart: False' in console_text(shell), timeout=SLOW)
    run(qtbot, shell, 'y = 7', r'In \[\d+\]')
    qtbot.waitUntil(lambda: (variable(window, 'y') or {}).get('view') == '7', timeout=SLOW)
    assert variable(window, 'x') is None
    assert plugin.consoles.kernel_of(client) == kernel_id
    assert plugin.consoles.last_message is None

    # A restart while code runs: the request that was running is dropped, and the console takes the next one.
    shell.execute('while True:\n    pass\n')
    qtbot.waitUntil(lambda: shell._executing)
    restarts = console_text(shell).count('Restarting kernel...')
    ipython_console.get_widget().restart_action.trigger()
    qtbot.waitUntil(lambda: console_text(shell).count('Restarting kernel...') > restarts, timeout=SLOW)
    qtbot.waitUntil(lambda: not shell._executing, timeout=SLOW)
    shell.execute("print('after a busy restart:', 'y' in globals())")
    qtbot.waitUntil(lambda: 'after a busy restart: False' in console_text(shell), timeout=SLOW)
    assert plugin.consoles.last_message is None

    # Shutting it down from "Administer remote…" is expected: no "kernel died" message.
    plugin.admin_action.trigger()
    admin = plugin.admin_dialog
    qtbot.waitUntil(lambda: admin.kernels.select(kernel_id), timeout=SLOW)
    admin.tabs.setCurrentIndex(1)
    qtbot.mouseClick(admin.shutdown_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: admin.question is not None and admin.question.isVisible())
    admin.question.button(QMessageBox.Yes).click()
    qtbot.waitUntil(lambda: admin.kernels.widget.topLevelItemCount() == 0, timeout=SLOW)
    assert plugin.consoles.last_message is None
    admin.close()

    # The plugin's page in Preferences: where the bridge and Node are, and what happens to kernels at exit.
    preferences = window.get_plugin(Plugins.Preferences)
    if SPYDER_6:
        preferences.open_dialog()
    else:
        preferences.open_dialog(QSize(1000, 560))
    config = preferences.get_container().dialog
    config.resize(1000, 560)
    config.set_current_index(config.get_index_by_name('spyder_remote'))
    page = config.get_page()
    assert page.get_option('stop_kernels_on_exit') is False
    shoot(config, 'preferences')
    config.close()

    # A kernel that dies is reported in a sentence, with its last words.
    plugin.connect_action.trigger()
    dialog = plugin.connect_dialog
    qtbot.waitUntil(dialog.isVisible)
    panel = log_in(qtbot, plugin, dialog, '')
    qtbot.mouseClick(panel.login_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: dialog.session is not None, timeout=SLOW)
    assert panel.status_label.text() == 'Already logged in.'
    qtbot.waitUntil(lambda: any(environment['usable'] for environment in dialog.environments._environments.values()), timeout=SLOW)
    system = [environment for environment in dialog.environments._environments.values() if environment['usable']][0]
    assert dialog.environments.select(system['id'])
    client = open_remote_console(qtbot, ipython_console, dialog)
    client.shellwidget.execute('import os; os._exit(3)')
    qtbot.waitUntil(lambda: plugin.consoles.last_message is not None and plugin.consoles.last_message.isVisible(), timeout=SLOW)
    assert 'stopped with exit code 3' in plugin.consoles.last_message.text()
    shoot(plugin.consoles.last_message, 'kernel-died')
    plugin.consoles.last_message.done(QMessageBox.Ok)


SLURM_SERVER = {
    'host': os.environ.get('SSD_E2E_SLURM_HOST', ''),
    'port': int(os.environ.get('SSD_E2E_SLURM_PORT', '0')),
}


def test_slurm_console(qtbot, spyder):
    """Run on a Slurm partition: the console's kernel runs on a compute node, and the Variable Explorer works."""
    window, ipython_console, plugin = spyder
    plugin.connect_action.trigger()
    dialog = plugin.connect_dialog
    qtbot.waitUntil(dialog.isVisible)
    panel = dialog.login_panel
    panel.host_edit.setText(SLURM_SERVER['host'])
    panel.port_spin.setValue(SLURM_SERVER['port'])
    panel.user_edit.setText(USER['name'])
    panel.password_edit.setText(USER['password'])
    panel.remember_key_check.setChecked(False)
    qtbot.mouseClick(panel.login_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: plugin.fingerprint_dialog is not None and plugin.fingerprint_dialog.isVisible(), timeout=SLOW)
    qtbot.mouseClick(plugin.fingerprint_dialog.trust_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: dialog.session is not None, timeout=SLOW)

    # "Run on:" offers the partitions the user sees, with their limits.
    qtbot.waitUntil(lambda: dialog.select_placement('debug'), timeout=SLOW)
    assert dialog.placement_combo.currentText().startswith('Slurm partition debug (time limit ')
    qtbot.waitUntil(lambda: any(environment['usable'] for environment in dialog.environments._environments.values()), timeout=SLOW)
    system = [environment for environment in dialog.environments._environments.values()
              if environment['kind'] == 'system' and environment['usable']][0]
    assert dialog.environments.select(system['id'])
    shoot(dialog, 'connect-slurm')

    client = open_remote_console(qtbot, ipython_console, dialog)
    assert 'Slurm job' in dialog.status_label.text()
    shell = client.shellwidget
    run(qtbot, shell, 'import os, socket; (socket.gethostname(), os.getuid())',
        r"Out\[\d+\]: \('node1', {}\)".format(USER['uid']))
    # The Variable Explorer goes through the comm port, carried from the node like the Jupyter channels.
    run(qtbot, shell, 'x = 42', r'In \[\d+\]')
    qtbot.waitUntil(lambda: (variable(window, 'x') or {}).get('view') == '42', timeout=SLOW)
    window.get_plugin(Plugins.VariableExplorer).switch_to_plugin()
    shoot(window, 'remote-console-slurm')
