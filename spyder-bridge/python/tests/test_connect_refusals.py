"""
The Connect dialog and running kernels this Spyder cannot use, in the real
Spyder: run by test/spyder.test.ts after test_spyder_e2e.py, with the same
environment and SSD_E2E_* parameters, plus:

- SSD_E2E_KERNELS: JSON {mismatched, ipykernel, shifting}: kernel ids. The
  first runs in an environment whose spyder-kernels (2.3.3) fits no Spyder,
  the second is a plain IPython kernel, the third's environment fits until
  this test moves SSD_E2E_STAGED_METADATA to SSD_E2E_METADATA.
"""

import json
import os

from qtpy.QtCore import Qt
from qtpy.QtWidgets import QMessageBox

from test_spyder_e2e import NEEDS, SLOW, SPYDER_VERSION, log_in, spyder  # noqa: F401 (spyder is a fixture)

KERNELS = json.loads(os.environ.get('SSD_E2E_KERNELS', '{}'))
STAGED_METADATA = os.environ.get('SSD_E2E_STAGED_METADATA', '')
METADATA = os.environ.get('SSD_E2E_METADATA', '')
TOO_OLD = 'spyder-kernels 2.3.3 found, Spyder {} needs {}'.format(SPYDER_VERSION[:3], NEEDS)


def log_in_with_password(qtbot, plugin, dialog):
    panel = log_in(qtbot, plugin, dialog, os.environ['SSD_E2E_PASSWORD'])
    panel.remember_key_check.setChecked(False)
    qtbot.mouseClick(panel.login_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: dialog.session is not None, timeout=SLOW)


def test_unusable_kernels_are_greyed_out_and_refused(qtbot, spyder):  # noqa: F811
    window, ipython_console, plugin = spyder
    plugin.connect_action.trigger()
    dialog = plugin.connect_dialog
    qtbot.waitUntil(dialog.isVisible)
    log_in_with_password(qtbot, plugin, dialog)

    # Greyed out, with the reason in Spyder's words.
    kernels = dialog.kernels
    qtbot.waitUntil(lambda: all(kernels.item_for(kernel_id) is not None for kernel_id in KERNELS.values()), timeout=SLOW)
    mismatched = kernels.item_for(KERNELS['mismatched'])
    assert not mismatched.flags() & Qt.ItemIsEnabled
    assert mismatched.text(5) == 'no: ' + TOO_OLD
    assert not kernels.select(KERNELS['mismatched'])
    plain = kernels.item_for(KERNELS['ipykernel'])
    assert not plain.flags() & Qt.ItemIsEnabled
    assert plain.text(5).startswith('no: not a Spyder kernel (started as ipykernel)')
    assert kernels.item_for(KERNELS['shifting']).text(5) == 'yes'

    # The environment changes under the open dialog: its list shows it, the kernel row does not yet.
    os.rename(STAGED_METADATA, METADATA)
    environments = dialog.environments
    qtbot.waitUntil(lambda: environments.item_for('shifting') is not None
                    and environments.item_for('shifting').text(3) == '2.3.3', timeout=SLOW)
    assert kernels.select(KERNELS['shifting'])
    assert dialog.open_button.text() == 'Re-attach console'

    # Re-attaching is refused with a sentence, before Spyder connects to anything.
    clients = len(ipython_console.get_clients())
    qtbot.mouseClick(dialog.open_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: dialog.last_error is not None and dialog.last_error.isVisible(), timeout=SLOW)
    sentence = 'Spyder cannot open a console on kernel {}: {}.'.format(KERNELS['shifting'], TOO_OLD)
    assert dialog.last_error.text() == sentence
    assert dialog.status_label.text() == sentence
    assert 'Traceback' not in dialog.last_error.text()
    assert len(ipython_console.get_clients()) == clients
    assert dialog.isVisible()
    dialog.last_error.done(QMessageBox.Ok)

    # The list is read again: now that kernel is greyed out too.
    qtbot.waitUntil(lambda: not kernels.item_for(KERNELS['shifting']).flags() & Qt.ItemIsEnabled, timeout=SLOW)
    assert kernels.item_for(KERNELS['shifting']).text(5) == 'no: ' + TOO_OLD
    dialog.close()
