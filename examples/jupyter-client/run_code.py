#!/usr/bin/python3
"""Run Python code on a remote kernel through a spyder-remote connection file.

The connection file is the one the client library's KernelForwarder writes
(`ssd kernel start` prints its path). It is a standard Jupyter connection file
for 127.0.0.1, so the stock jupyter_client is all this script needs: nothing
here knows about spyder-remote.

Usage: run_code.py CONNECTION_FILE CODE
Prints what the code wrote to stdout and stderr, and the value of a final
expression; exits 1 if the code raised.
"""

import queue
import sys

from jupyter_client import BlockingKernelClient

TIMEOUT = 60


def run(connection_file, code):
    client = BlockingKernelClient(connection_file=connection_file)
    client.load_connection_file()
    client.start_channels()
    try:
        # Waits until the kernel answers kernel_info and IOPub delivers, so no output is missed.
        client.wait_for_ready(timeout=TIMEOUT)
        msg_id = client.execute(code)
        status = "ok"
        while True:
            try:
                message = client.get_iopub_msg(timeout=TIMEOUT)
            except queue.Empty:
                print("no output from the kernel in time", file=sys.stderr)
                return 1
            # IOPub is a broadcast: other clients' output may pass by too.
            if message["parent_header"].get("msg_id") != msg_id:
                continue
            kind, content = message["msg_type"], message["content"]
            if kind == "stream":
                (sys.stdout if content["name"] == "stdout" else sys.stderr).write(content["text"])
            elif kind == "execute_result":
                print(content["data"].get("text/plain", ""))
            elif kind == "error":
                status = "error"
                print(f"{content['ename']}: {content['evalue']}", file=sys.stderr)
            elif kind == "status" and content["execution_state"] == "idle":
                break
        reply = client.get_shell_msg(timeout=TIMEOUT)
        while reply["parent_header"].get("msg_id") != msg_id:
            reply = client.get_shell_msg(timeout=TIMEOUT)
        return 0 if status == "ok" and reply["content"]["status"] == "ok" else 1
    finally:
        client.stop_channels()


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.exit(run(sys.argv[1], sys.argv[2]))
