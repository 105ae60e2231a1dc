"""Messages to the user: Spyder-style dialogs with a sentence, never a traceback."""

from qtpy.QtCore import Qt
from qtpy.QtWidgets import QMessageBox

TITLE = 'Spyder remote'


def _box(parent, icon, text, title, details=''):
    # open(), not exec_(): the event loop keeps running, so the bridge is
    # still heard and a test can read and close the box.
    box = QMessageBox(icon, title, text, QMessageBox.Ok, parent)
    box.setObjectName('spyder_remote_message')
    box.setAttribute(Qt.WA_DeleteOnClose)
    box.setTextInteractionFlags(Qt.TextSelectableByMouse)
    if details:
        box.setDetailedText(details)
    box.open()
    return box


def show_error(parent, text, title=TITLE):
    return _box(parent, QMessageBox.Critical, text, title)


def show_warning(parent, text, title=TITLE, details=''):
    return _box(parent, QMessageBox.Warning, text, title, details)


def ask(parent, text, on_yes, title=TITLE):
    """A yes/no question; `on_yes()` runs only on yes."""
    box = QMessageBox(QMessageBox.Question, title, text, QMessageBox.Yes | QMessageBox.No, parent)
    box.setObjectName('spyder_remote_question')
    box.setDefaultButton(QMessageBox.No)
    box.setAttribute(Qt.WA_DeleteOnClose)
    box.finished.connect(lambda answer: on_yes() if answer == QMessageBox.Yes else None)
    box.open()
    return box
