"""
Debugging in a spyder-kernels 3.x kernel while a GUI event loop runs (`%gui
qt`, `%gui asyncio`, ...), the way Spyder 6 does it, through whatever
connection file it is given.

Spyder 6 talks to the kernel over the `spyder_api` comm: the debugger asks
for a command with a `pdb_input` call, and Spyder answers with
`pdb_input_reply` on the control channel. While the debugger waits, the
kernel's main thread runs the event loop, which only returns for a
message on the shell socket: the kernel sends itself one
(`interrupt_eventloop`) when the reply comes. This plays Spyder's part,
with only jupyter_client, and prints one JSON line: whether the debugger
went on after the command, how long that took, and where the kernel sent
its wake-up message.

usage: python3 gui-debugging.py CONNECTION_FILE GUI
"""

import json
import sys
import time
import uuid

from jupyter_client import BlockingKernelClient

# Long enough for a loaded machine, far shorter than the wait for a shell
# message that never comes.
RESUME_TIMEOUT = 20


class SpyderFrontend:
    """The frontend end of the `spyder_api` comm, and the channels under it."""

    def __init__(self, connection_file):
        self.client = BlockingKernelClient(connection_file=connection_file)
        self.client.load_connection_file()
        self.client.start_channels()
        self.client.wait_for_ready(timeout=60)
        self.comm_id = uuid.uuid4().hex
        self.calls = []
        self.output = {}

    def open_comm(self):
        self.client.shell_channel.send(self.client.session.msg(
            'comm_open', {'comm_id': self.comm_id, 'target_name': 'spyder_api', 'data': {}}))

    def remote_call(self, name, *args, reply=False, call_id=None):
        """A call to the kernel, as Spyder's comm sends it: on the control channel."""
        content = {
            'call_name': name, 'call_id': call_id or uuid.uuid4().hex,
            'settings': {'send_reply': reply}, 'call_args': list(args), 'call_kwargs': {},
            'buffered_args': [], 'buffered_kwargs': [],
        }
        self._send('remote_call', content)

    def _send(self, spyder_msg_type, content):
        data = {'spyder_msg_type': spyder_msg_type, 'content': content}
        self.client.control_channel.send(self.client.session.msg(
            'comm_msg', {'comm_id': self.comm_id, 'data': data}))

    def _answer(self, content):
        """Calls that wait for Spyder's answer get None, as from a Spyder with nothing to add."""
        if content.get('settings', {}).get('send_reply'):
            self._send('remote_call_reply', {
                'is_error': False, 'call_id': content['call_id'],
                'call_name': content['call_name'], 'call_return_value': None,
            })

    def pump(self, timeout):
        """Reads IOPub for up to `timeout` seconds, answering the kernel's calls and keeping their names."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                message = self.client.get_iopub_msg(timeout=max(0.01, min(0.2, deadline - time.monotonic())))
            except Exception:
                continue
            if message['msg_type'] == 'stream':
                parent = message['parent_header'].get('msg_id')
                self.output[parent] = self.output.get(parent, '') + message['content']['text']
            if message['msg_type'] != 'comm_msg' or message['content'].get('comm_id') != self.comm_id:
                continue
            data = message['content']['data']
            if data.get('spyder_msg_type') == 'remote_call':
                self.calls.append(data['content']['call_name'])
                self._answer(data['content'])

    def wait_for_call(self, name, timeout):
        deadline = time.monotonic() + timeout
        while name not in self.calls and time.monotonic() < deadline:
            self.pump(0.2)
        return name in self.calls

    def execute(self, code):
        return self.client.execute(code, store_history=False)

    def reply_to(self, message_id, timeout):
        """The shell reply to `message_id`, or None within `timeout` seconds; IOPub keeps flowing meanwhile."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.pump(0.05)
            try:
                reply = self.client.get_shell_msg(timeout=0.05)
            except Exception:
                continue
            if reply['parent_header'].get('msg_id') == message_id:
                return reply
        return None

    def run(self, code, timeout=30):
        reply = self.reply_to(self.execute(code), timeout)
        if reply is None or reply['content']['status'] != 'ok':
            raise RuntimeError('%r failed: %r' % (code, reply and reply['content']))


def main(connection_file, gui):
    frontend = SpyderFrontend(connection_file)
    frontend.open_comm()
    frontend.pump(1)
    frontend.run('%gui ' + gui)
    frontend.run('import zmq')
    debugging = frontend.execute('breakpoint()\nresumed = True')
    asked = frontend.wait_for_call('pdb_input', 30)
    sent = time.monotonic()
    frontend.remote_call('pdb_input_reply', 'continue')
    reply = frontend.reply_to(debugging, RESUME_TIMEOUT)
    resumed_after = time.monotonic() - sent
    result = {
        'askedForCommand': asked,
        'resumed': reply is not None and reply['content']['status'] == 'ok',
        'resumedAfterSeconds': round(resumed_after, 3),
    }
    if result['resumed']:
        endpoint = frontend.execute(
            'print(get_ipython().kernel.loopback_socket.getsockopt(zmq.LAST_ENDPOINT).decode())')
        frontend.reply_to(endpoint, 10)
        frontend.pump(0.5)
        result['wakeUpEndpoint'] = frontend.output.get(endpoint, '').strip()
    print(json.dumps(result), flush=True)
    frontend.client.stop_channels()


if __name__ == '__main__':
    main(sys.argv[1], sys.argv[2])
