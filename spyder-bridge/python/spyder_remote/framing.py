"""
Content-Length framing of JSON-RPC messages, as the language server
protocol has it: the same framing Spyder uses for its language servers.
"""

import json

_SEPARATOR = b'\r\n\r\n'
# The bridge never sends headers this long; a stream that does is out of sync.
_MAX_HEADER_BYTES = 1024


class FramingError(ValueError):
    """The stream does not carry Content-Length frames (any more)."""


def encode(message):
    """One frame: the header, then the UTF-8 JSON body."""
    body = json.dumps(message, separators=(',', ':')).encode('utf-8')
    return b'Content-Length: %d\r\n\r\n' % len(body) + body


class FrameReader:
    """Collects bytes as they come and hands out whole messages."""

    def __init__(self):
        self._buffer = b''

    def feed(self, data):
        """Add bytes; return the messages they complete, in order."""
        self._buffer += data
        messages = []
        while True:
            end = self._buffer.find(_SEPARATOR)
            if end < 0:
                if len(self._buffer) > _MAX_HEADER_BYTES:
                    raise FramingError('no frame header in the first %d bytes' % _MAX_HEADER_BYTES)
                return messages
            length = self._content_length(self._buffer[:end])
            start = end + len(_SEPARATOR)
            if len(self._buffer) < start + length:
                return messages
            body = self._buffer[start:start + length]
            self._buffer = self._buffer[start + length:]
            messages.append(json.loads(body.decode('utf-8')))

    @staticmethod
    def _content_length(header):
        for line in header.decode('ascii', 'replace').split('\r\n'):
            name, _, value = line.partition(':')
            if name.strip().lower() == 'content-length':
                try:
                    return int(value.strip())
                except ValueError:
                    break
        raise FramingError('frame header without a valid Content-Length: %r' % header[:100])
