"""
Where the bridge is, and how to run it. In order: the path configured in
Spyder (or SPYDER_REMOTE_BRIDGE), the bundle a platform wheel carries inside
this package, `spyder-remote-bridge` on PATH, then the copy built next to
this package in the repository checkout. A bridge that is a .js file runs on
the configured Node, else the wheel's, else the one on PATH.
"""

import os
import os.path as osp
import shutil

BRIDGE_NAME = 'spyder-remote-bridge'
# spyder_remote/bridge/ in a platform wheel, laid out by scripts/release
# (client-tree.mjs and runtime.mjs): the single-file bridge and its Node.
_BUNDLED = osp.join(osp.dirname(osp.abspath(__file__)), 'bridge')
_BUNDLED_SCRIPT = osp.join(_BUNDLED, 'lib', BRIDGE_NAME + '.js')
_BUNDLED_NODE = osp.join(_BUNDLED, 'node', 'node.exe' if os.name == 'nt' else osp.join('bin', 'node'))
# spyder-bridge/python/spyder_remote/locate.py -> spyder-bridge/
_CHECKOUT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
_CHECKOUT_SCRIPT = osp.join(_CHECKOUT, 'dist', 'bin', BRIDGE_NAME + '.js')


class BridgeNotFound(Exception):
    """No usable bridge; the message says what to do about it."""


def find_bridge_command(configured_bridge='', configured_node=''):
    """The command line that starts the bridge, as an argument list."""
    configured = configured_bridge or os.environ.get('SPYDER_REMOTE_BRIDGE', '')
    if configured:
        if not osp.isfile(configured):
            raise BridgeNotFound(
                'The spyder-remote bridge configured at {} does not exist. '
                'Correct the path in Preferences or remove it.'.format(configured))
        return _command_for(configured, configured_node)
    if osp.isfile(_BUNDLED_SCRIPT):
        return _command_for(_BUNDLED_SCRIPT, configured_node)
    on_path = shutil.which(BRIDGE_NAME)
    if on_path:
        return _command_for(on_path, configured_node)
    if osp.isfile(_CHECKOUT_SCRIPT):
        return _command_for(_CHECKOUT_SCRIPT, configured_node)
    if osp.isfile(osp.join(_CHECKOUT, 'package.json')):
        raise BridgeNotFound(
            'The spyder-remote bridge is not built yet. Build it once in the '
            'repository: cd {} && npm install && npx tsc -b'.format(osp.dirname(_CHECKOUT)))
    raise BridgeNotFound(
        'The spyder-remote bridge is missing. Install the plugin\'s wheel for '
        'this platform, which carries the bridge and Node.js, or set the '
        'bridge\'s path in the plugin\'s configuration.')


def _command_for(path, configured_node):
    # npm links bins as symlinks to the .js file; those need Node.js, and a
    # missing Node would otherwise only show up as an obscure exit code.
    real = osp.realpath(path)
    if not real.endswith('.js'):
        return [path]
    bundled_node = _BUNDLED_NODE if osp.isfile(_BUNDLED_NODE) else ''
    node = configured_node or os.environ.get('SPYDER_REMOTE_NODE', '') or bundled_node or shutil.which('node')
    if not node or not osp.isfile(node):
        raise BridgeNotFound(
            'Node.js is not installed, or not on the PATH Spyder sees. The '
            'spyder-remote bridge needs Node.js 20 or newer: install it, or set '
            'its path in the plugin\'s configuration.')
    return [node, real]
