"""Spyder consoles on kernels that run on a spyder-remote server, as your own user there."""

__version__ = '0.1.0'
