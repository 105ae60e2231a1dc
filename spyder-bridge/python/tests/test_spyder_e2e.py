"""
The plugin in the real Spyder, against a real ssd-server and a real user:
run by test/spyder.test.ts, one test per Spyder run, in this order. The
environment must be set before this module is imported (Spyder reads it at
import): SPYDER_PYTEST, HOME, TMPDIR (Spyder's clean config dir lives
there under pytest), QT_QPA_PLATFORM and QTWEBENGINE_DISABLE_SANDBOX.
Parameters come as SSD_E2E_* variables.
"""

import base64
import hashlib
import io
import json
import os
import os.path as osp
import pwd
import re
import sys
import tarfile
import time
import zipfile

import pytest

# WebEngine must be imported before pytest-qt creates the QApplication.
from qtpy import QtWebEngineWidgets  # noqa: F401
from qtpy.QtCore import QPoint, QSize, Qt
from qtpy.QtGui import QPainter
from qtpy.QtWidgets import QApplication, QLineEdit, QMessageBox

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


def wait_for_text(qtbot, shellwidget, before, expect, timeout=SLOW):
    """Wait until the console's text after offset `before` matches `expect`; say what it shows if it never does."""
    try:
        qtbot.waitUntil(lambda: re.search(expect, console_text(shellwidget)[before:]) is not None, timeout=timeout)
    except qtbot.TimeoutError:
        raise AssertionError('the console never showed {!r}; it shows:\n{}'.format(expect, console_text(shellwidget)[before:][-2000:]))
    return console_text(shellwidget)[before:]


def run(qtbot, shellwidget, code, expect, timeout=SLOW):
    """Execute in the console; wait until its text matches `expect`."""
    before = len(console_text(shellwidget))
    qtbot.waitUntil(lambda: not shellwidget._executing, timeout=timeout)
    shellwidget.execute(code)
    return wait_for_text(qtbot, shellwidget, before, expect, timeout)


def type_at_pdb_prompt(qtbot, shellwidget, line):
    """Keys typed before the prompt is back would be lost: wait for it first."""
    qtbot.waitUntil(shellwidget.is_waiting_pdb_input, timeout=SLOW)
    qtbot.keyClicks(shellwidget._control, line)
    qtbot.keyClick(shellwidget._control, Qt.Key_Return)


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


def open_console_again(qtbot, ipython_console, plugin):
    """"Connect to remote…" once logged in: a new console on the first usable environment."""
    plugin.connect_action.trigger()
    dialog = plugin.connect_dialog
    qtbot.waitUntil(dialog.isVisible)
    panel = log_in(qtbot, plugin, dialog, '')
    qtbot.mouseClick(panel.login_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: dialog.session is not None, timeout=SLOW)
    assert panel.status_label.text() == 'Already logged in.'
    qtbot.waitUntil(lambda: any(environment['usable'] for environment in dialog.environments._environments.values()), timeout=SLOW)
    usable = [environment for environment in dialog.environments._environments.values() if environment['usable']][0]
    assert dialog.environments.select(usable['id'])
    return open_remote_console(qtbot, ipython_console, dialog)


def tab_text(ipython_console, client):
    widget = ipython_console.get_widget()
    return widget.tabwidget.tabText(widget.tabwidget.indexOf(client))


def edit_in_variable_explorer(qtbot, window, name, text):
    """Double-click-style edit of a value in the Variable Explorer: its inline editor, then Return."""
    editor = window.get_plugin(Plugins.VariableExplorer).get_widget().current_widget().editor
    source = editor.source_model.get_index_from_key(name)
    index = editor.proxy_model.mapFromSource(source.sibling(source.row(), 3))
    editor.setCurrentIndex(index)
    editor.edit(index)
    qtbot.waitUntil(lambda: isinstance(editor.indexWidget(index), QLineEdit), timeout=SLOW)
    line = editor.indexWidget(index)
    line.selectAll()
    qtbot.keyClicks(line, text)
    qtbot.keyClick(line, Qt.Key_Return)


def figures_in_plots(window):
    browser = window.get_plugin(Plugins.Plots).get_widget().current_widget()
    return len(browser.thumbnails_sb._thumbnails) if browser is not None else 0


def make_wheelhouse(directory, account):
    """
    A local package source as a server without PyPI would have: a wheel
    that installs, and an sdist whose in-tree build backend only writes its
    pid and waits, for Cancel to stop. Owned by the user, who runs pip.
    """
    os.makedirs(directory)
    files = {
        'ssd_demo/__init__.py': "VALUE = 'from the wheelhouse'\n",
        'ssd_demo-1.0.dist-info/METADATA': 'Metadata-Version: 2.1\nName: ssd-demo\nVersion: 1.0\n',
        'ssd_demo-1.0.dist-info/WHEEL': 'Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n',
    }
    record = ''.join('{},sha256={},{}\n'.format(
        name, base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).decode().rstrip('='), len(text.encode()))
        for name, text in files.items())
    files['ssd_demo-1.0.dist-info/RECORD'] = record + 'ssd_demo-1.0.dist-info/RECORD,,\n'
    with zipfile.ZipFile(osp.join(directory, 'ssd_demo-1.0-py3-none-any.whl'), 'w') as wheel:
        for name, text in files.items():
            wheel.writestr(name, text)
    pid_file = osp.join(directory, 'slow-build.pid')
    sdist = {
        'PKG-INFO': 'Metadata-Version: 2.1\nName: ssd-slow\nVersion: 1.0\n',
        'pyproject.toml': '[build-system]\nrequires = []\nbuild-backend = "slow_backend"\nbackend-path = ["."]\n',
        'slow_backend.py': (
            'import os, time\n'
            'def get_requires_for_build_wheel(config_settings=None):\n'
            '    with open({!r}, "w") as pid:\n'
            '        pid.write(str(os.getpid()))\n'
            '    time.sleep(600)\n'
            '    return []\n'.format(pid_file)),
    }
    with tarfile.open(osp.join(directory, 'ssd_slow-1.0.tar.gz'), 'w:gz') as archive:
        for name, text in sdist.items():
            data = text.encode()
            member = tarfile.TarInfo('ssd_slow-1.0/' + name)
            member.size = len(data)
            archive.addfile(member, io.BytesIO(data))
    for path in [directory] + [osp.join(directory, name) for name in os.listdir(directory)]:
        os.chown(path, account.pw_uid, account.pw_gid)
    return pid_file


def use_wheelhouse(prefix, directory, account):
    """pip's per-environment configuration (<prefix>/pip.conf): no index, only the local directory."""
    config = osp.join(prefix, 'pip.conf')
    with open(config, 'w') as file:
        file.write('[global]\nno-index = true\nfind-links = {}\n'.format(directory))
    os.chown(config, account.pw_uid, account.pw_gid)


def process_gone(pid):
    try:
        with open('/proc/{}/stat'.format(pid)) as stat:
            return stat.read().rsplit(')', 1)[1].split()[0] == 'Z'
    except FileNotFoundError:
        return True


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

    # Editing the value in the Variable Explorer changes it in the remote kernel.
    edit_in_variable_explorer(qtbot, window, 'x', '43')
    qtbot.waitUntil(lambda: (variable(window, 'x') or {}).get('view') == '43', timeout=SLOW)
    run(qtbot, shell, 'x', r'Out\[\d+\]: 43\b')

    # A figure drawn in the remote kernel appears in the Plots pane.
    run(qtbot, shell, 'import matplotlib.pyplot as plt; plt.plot([1, 4, 9, 16]); plt.show()', r'In \[\d+\]')
    qtbot.waitUntil(lambda: figures_in_plots(window) >= 1, timeout=SLOW)
    window.get_plugin(Plugins.Plots).switch_to_plugin()
    # The pane fits the figure to its size once it is shown.
    qtbot.wait(500)
    shoot(window, 'plots')

    # Spyder's own Interrupt stops a running loop (the server signals the kernel).
    before = len(console_text(shell))
    shell.execute('n = 0\nwhile True:\n    n += 1\n')
    qtbot.waitUntil(lambda: shell._executing)
    time.sleep(0.5)
    ipython_console.get_widget().interrupt_action.trigger()
    qtbot.waitUntil(lambda: 'KeyboardInterrupt' in console_text(shell)[before:] and not shell._executing, timeout=SLOW)
    # ipykernel aborts what reaches it while it is still handling the interrupt's error ("execution
    # aborted"); the Variable Explorer's refresh after it, with n, shows that it is done.
    qtbot.waitUntil(lambda: variable(window, 'n') is not None, timeout=SLOW)
    run(qtbot, shell, 'n > 0', r'Out\[\d+\]: True')

    # The debugger stops at a breakpoint, steps to the next line, and goes on. After the interrupt:
    # pdb's "continue" leaves its SIGINT handler in place, so a later interrupt would enter the debugger.
    before = len(console_text(shell))
    shell.execute('def steps():\n    a = 1\n    breakpoint()\n    b = a + 1\n    return b\n\nstepped = steps()\n')
    # pdb from Python 3.13 on stops on the breakpoint() line itself, older ones on the line after it.
    stop = int(re.search(r'-+> ([34])\s', wait_for_text(qtbot, shell, before, r'-+> (3\s+breakpoint\(\)|4\s+b = a \+ 1)')).group(1))
    assert shell.is_debugging()
    # Typed at the IPdb prompt, as a user would: the console then shows where the step went.
    # Spyder may have Pdb commands take a "!" to tell them from Python.
    # The console rewrites the prompt line, so look for the arrow at the next line anywhere: nothing showed it before.
    command = '!' if shell.is_pdb_using_exclamantion_mark() else ''
    type_at_pdb_prompt(qtbot, shell, command + 'next')
    wait_for_text(qtbot, shell, 0, r'-+> {}\s'.format(stop + 1))
    shoot(window, 'debugger')
    type_at_pdb_prompt(qtbot, shell, command + 'continue')
    qtbot.waitUntil(lambda: not shell.is_debugging(), timeout=SLOW)
    run(qtbot, shell, 'stepped', r'Out\[\d+\]: 2\b')

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

    # Install from a local source (PyPI is out of reach), with pip's output as it works.
    account = pwd.getpwnam(USER['name'])
    wheelhouse = osp.join(account.pw_dir, 'wheelhouse')
    pid_file = make_wheelhouse(wheelhouse, account)
    prefix = admin.environments.selected()['prefix']
    use_wheelhouse(prefix, wheelhouse, account)
    admin.packages_edit.setText('ssd-demo')
    qtbot.mouseClick(admin.install_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: admin.operation is None, timeout=60000)
    assert 'Successfully installed ssd-demo-1.0' in admin.output_view.toPlainText(), admin.output_view.toPlainText()
    assert 'Installing ssd-demo in scratch: done.' in admin.output_view.toPlainText()
    version = '{}.{}'.format(*sys.version_info[:2])
    assert osp.isfile(osp.join(prefix, 'lib', 'python' + version, 'site-packages', 'ssd_demo', '__init__.py'))

    # Cancel stops pip and its build backend: the install is busy, Cancel, and the process is gone.
    admin.packages_edit.setText('ssd-slow')
    qtbot.mouseClick(admin.install_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: osp.isfile(pid_file) and open(pid_file).read().strip() != '', timeout=60000)
    builder = int(open(pid_file).read())
    assert not process_gone(builder)
    assert admin.progress_bar.maximum() == 0 and admin.cancel_button.isEnabled()
    # pip's lines arrive while it works.
    qtbot.waitUntil(lambda: wheelhouse in admin.output_view.toPlainText(), timeout=SLOW)
    shoot(admin, 'admin-install')
    qtbot.mouseClick(admin.cancel_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: admin.operation is None, timeout=SLOW)
    qtbot.waitUntil(lambda: process_gone(builder), timeout=SLOW)
    assert 'Installing ssd-slow in scratch: failed.' in admin.output_view.toPlainText()
    qtbot.waitUntil(lambda: admin.last_error is not None and admin.last_error.isVisible(), timeout=SLOW)
    assert 'cancelled' in admin.last_error.text()
    admin.last_error.done(QMessageBox.Ok)

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
    # 43: the value edited in the Variable Explorer last time.
    run(qtbot, client.shellwidget, 'x', r'Out\[\d+\]: 43\b')
    qtbot.waitUntil(lambda: (variable(window, 'x') or {}).get('view') == '43', timeout=SLOW)

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
    # Spyder 6.1 (ipykernel 7) sometimes drops a request sent while the restarted kernel is still coming up, as a
    # user's first line after such a restart may be: send it again, as they would, but a True is still a failure.
    for attempt in range(3):
        shell.execute("print('after a busy restart:', 'y' in globals())")
        try:
            qtbot.waitUntil(lambda: re.search(r'after a busy restart: (True|False)', console_text(shell)) is not None, timeout=10_000)
            break
        except qtbot.TimeoutError:
            if attempt == 2:
                raise AssertionError('the console never answered after a busy restart; it shows:\n' + console_text(shell)[-2000:])
    assert 'after a busy restart: False' in console_text(shell), console_text(shell)[-2000:]
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
    # Ticked and applied there, it stops this Spyder's remote kernels when Spyder closes (test/spyder.test.ts checks).
    stop = [box for box, (_section, option, _default) in page.checkboxes.items() if option == 'stop_kernels_on_exit'][0]
    assert not stop.isChecked()
    # click(), not a mouse click at the middle of a stretched check box, which can miss its label.
    stop.click()
    assert stop.isChecked()
    assert page.is_modified
    # Applies only if the page is valid: its empty Bridge and Node.js paths must count as valid.
    qtbot.mouseClick(config.apply_btn, Qt.LeftButton)
    assert plugin.get_conf('stop_kernels_on_exit') is True
    config.close()

    # A kernel that dies is reported in a sentence, with its last words.
    client = open_console_again(qtbot, ipython_console, plugin)
    client.shellwidget.execute('import os; os._exit(3)')
    qtbot.waitUntil(lambda: plugin.consoles.last_message is not None and plugin.consoles.last_message.isVisible(), timeout=SLOW)
    assert 'stopped with exit code 3' in plugin.consoles.last_message.text()
    shoot(plugin.consoles.last_message, 'kernel-died')
    plugin.consoles.last_message.done(QMessageBox.Ok)

    # One more kernel, left running for Spyder's exit to stop.
    client = open_console_again(qtbot, ipython_console, plugin)
    run(qtbot, client.shellwidget, 'import os; os.getuid()', r'Out\[\d+\]: {}\b'.format(USER['uid']))
    with open(STATE_FILE, 'w') as state:
        json.dump({'kernel': plugin.consoles.kernel_of(client)}, state)


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
