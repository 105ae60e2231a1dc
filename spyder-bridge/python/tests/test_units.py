"""The plugin's parts that need no Spyder: framing and finding the bridge."""

import os
import stat

import pytest

from spyder_remote import locate
from spyder_remote.framing import FrameReader, FramingError, encode


def test_frames_survive_any_split():
    messages = [{'jsonrpc': '2.0', 'id': 1, 'result': {'text': 'grüße'}}, {'jsonrpc': '2.0', 'method': 'log', 'params': {}}]
    stream = b''.join(encode(message) for message in messages)
    for size in (1, 2, 7, len(stream)):
        reader = FrameReader()
        received = []
        for start in range(0, len(stream), size):
            received += reader.feed(stream[start:start + size])
        assert received == messages


def test_a_stream_without_frames_is_refused():
    with pytest.raises(FramingError):
        FrameReader().feed(b'x' * 2000)
    with pytest.raises(FramingError):
        FrameReader().feed(b'Content-Length: many\r\n\r\n{}')


def _script(tmp_path, name, text='#!/bin/sh\n'):
    path = tmp_path / name
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def test_the_configured_bridge_wins_and_a_js_file_runs_with_node(tmp_path, monkeypatch):
    monkeypatch.delenv('SPYDER_REMOTE_BRIDGE', raising=False)
    node = _script(tmp_path, 'node')
    bridge = _script(tmp_path, 'bridge.js')
    assert locate.find_bridge_command(bridge, node) == [node, bridge]
    native = _script(tmp_path, 'spyder-remote-bridge')
    assert locate.find_bridge_command(native) == [native]


def test_then_the_wheels_bundle_on_its_own_node(tmp_path, monkeypatch):
    monkeypatch.delenv('SPYDER_REMOTE_BRIDGE', raising=False)
    monkeypatch.delenv('SPYDER_REMOTE_NODE', raising=False)
    bundled = _script(tmp_path, 'bundled-bridge.js')
    bundled_node = _script(tmp_path, 'bundled-node')
    monkeypatch.setattr(locate, '_BUNDLED_SCRIPT', bundled)
    monkeypatch.setattr(locate, '_BUNDLED_NODE', bundled_node)
    # Before PATH: a bridge installed elsewhere does not shadow the wheel's own.
    monkeypatch.setenv('PATH', str(tmp_path))
    _script(tmp_path, 'spyder-remote-bridge')
    assert locate.find_bridge_command() == [bundled_node, bundled]
    configured_node = _script(tmp_path, 'node')
    assert locate.find_bridge_command('', configured_node) == [configured_node, bundled]
    configured = _script(tmp_path, 'configured.js')
    assert locate.find_bridge_command(configured) == [bundled_node, configured]


def test_then_path_then_the_checkout(tmp_path, monkeypatch):
    monkeypatch.delenv('SPYDER_REMOTE_BRIDGE', raising=False)
    on_path = _script(tmp_path, 'spyder-remote-bridge')
    monkeypatch.setenv('PATH', str(tmp_path) + os.pathsep + os.environ['PATH'])
    assert locate.find_bridge_command() == [on_path]
    monkeypatch.setenv('PATH', '/nonexistent')
    monkeypatch.setenv('SPYDER_REMOTE_NODE', _script(tmp_path, 'node'))
    checkout = locate.find_bridge_command()
    assert checkout[1].endswith(os.path.join('spyder-bridge', 'dist', 'bin', 'spyder-remote-bridge.js'))


def test_missing_pieces_are_explained(tmp_path, monkeypatch):
    monkeypatch.delenv('SPYDER_REMOTE_BRIDGE', raising=False)
    monkeypatch.delenv('SPYDER_REMOTE_NODE', raising=False)
    with pytest.raises(locate.BridgeNotFound, match='does not exist'):
        locate.find_bridge_command(str(tmp_path / 'gone.js'))
    monkeypatch.setenv('PATH', '/nonexistent')
    with pytest.raises(locate.BridgeNotFound, match='Node.js is not installed'):
        locate.find_bridge_command(_script(tmp_path, 'bridge.js'))
    monkeypatch.setattr(locate, '_CHECKOUT_SCRIPT', str(tmp_path / 'not-built.js'))
    monkeypatch.setattr(locate, '_CHECKOUT', str(tmp_path))
    (tmp_path / 'package.json').write_text('{}')
    with pytest.raises(locate.BridgeNotFound, match='not built yet'):
        locate.find_bridge_command()
    (tmp_path / 'package.json').unlink()
    with pytest.raises(locate.BridgeNotFound, match='bridge is missing'):
        locate.find_bridge_command()
