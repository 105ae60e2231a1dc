"""The first-contact question: trust this server's certificate fingerprint?"""

from qtpy.QtCore import Qt
from qtpy.QtGui import QFont
from qtpy.QtWidgets import QDialog, QDialogButtonBox, QHBoxLayout, QLabel, QVBoxLayout

from spyder.utils.icon_manager import ima

from spyder_remote.widgets.style import fit_to_label


class FingerprintDialog(QDialog):
    """
    Shown while connecting to a server that known_hosts has no pin for.
    `answer(trust)` is called once, whichever way the dialog closes.
    """

    def __init__(self, parent, host, port, fingerprint, announced=None, answer=None):
        super().__init__(parent)
        self.setObjectName('spyder_remote_fingerprint')
        self.setWindowTitle('Unknown server')
        self._answer = answer
        self._answered = False

        intro = QLabel(
            '<b>{host}:{port}</b> has not been used from this computer before, '
            'so its identity cannot be checked yet.'.format(host=host, port=port))
        intro.setWordWrap(True)

        self.fingerprint_label = QLabel(fingerprint)
        font = QFont('monospace')
        font.setStyleHint(QFont.TypeWriter)
        self.fingerprint_label.setFont(font)
        self.fingerprint_label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.fingerprint_label.setAlignment(Qt.AlignCenter)
        self.fingerprint_label.setStyleSheet('padding: 8px;')

        advice = QLabel(
            'Compare this certificate fingerprint with the one the server\'s '
            'administrator gives you (<tt>ssd-server fingerprint</tt>). Trust it '
            'only if they match: Spyder then remembers it and will refuse this '
            'server if the fingerprint ever changes.')
        advice.setWordWrap(True)

        icon = QLabel()
        icon.setPixmap(ima.icon('lock').pixmap(40, 40))
        icon.setAlignment(Qt.AlignTop)
        header = QHBoxLayout()
        header.addWidget(icon)
        header.addWidget(intro, 1)

        layout = QVBoxLayout(self)
        layout.addLayout(header)
        layout.addWidget(self.fingerprint_label)
        if announced:
            self.announced_label = QLabel(
                'Warning: the network announcement for this server gave another '
                'fingerprint ({}). Someone on the local network may be '
                'impersonating it.'.format(announced))
            self.announced_label.setWordWrap(True)
            self.announced_label.setStyleSheet('color: #d9534f;')
            layout.addWidget(self.announced_label)
        layout.addWidget(advice)

        self.buttons = QDialogButtonBox()
        self.trust_button = self.buttons.addButton('Trust and connect', QDialogButtonBox.AcceptRole)
        self.refuse_button = self.buttons.addButton('Refuse', QDialogButtonBox.RejectRole)
        self.refuse_button.setDefault(True)
        for button in (self.trust_button, self.refuse_button):
            fit_to_label(button)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self.finished.connect(self._finish)
        # Wrapped labels would otherwise let the layout squeeze the fingerprint and the buttons.
        self.setMinimumWidth(max(560, self.fingerprint_label.sizeHint().width() + 80))

    def _finish(self, result):
        if not self._answered and self._answer is not None:
            self._answered = True
            self._answer(result == QDialog.Accepted)
