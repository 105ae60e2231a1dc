"""Fixes for how Spyder's style sheet lays out our widgets."""


def fit_to_label(button):
    """
    Widen a button to its label. Spyder's style sheet pads buttons without
    widening them, which clips their labels; its own min-width rule is the
    one that holds.
    """
    button.ensurePolished()
    button.setStyleSheet('min-width: {}px;'.format(button.fontMetrics().horizontalAdvance(button.text()) + 40))
