/**
 * How kernels are started: `python -c LAUNCHER <module> -f <connection file>`.
 * The launcher mends two places where ipykernel and spyder-kernels use TCP
 * whatever the connection file's transport, before the kernel module runs.
 *
 * ipykernel's IOPubThread binds a PULL socket on a random 127.0.0.1 TCP
 * port (to collect output from forked children). Any local user could
 * connect to it. The launcher turns that pipe off, so the kernel listens on
 * Unix sockets only. The cost: output printed by forked children
 * (multiprocessing with fork) is not shown in the console, as when running
 * ipykernel with pipe=False. Kernels whose IOPubThread lacks the option
 * start unchanged.
 *
 * spyder-kernels 3.x wakes a GUI event loop (Qt, Tk: the main thread runs it
 * while the debugger waits for a command) by sending a message to its own
 * shell socket, which it reaches at `tcp://127.0.0.1:<shell_port>`. Under
 * ipc that address is nobody's (ports 1-5), so a debugger command typed
 * while `%gui qt` or `%matplotlib qt` runs was only read when the next shell
 * message came. The launcher makes it reach the shell socket where it is,
 * on its Unix socket in the kernel's 0700 directory, so no TCP port is
 * opened. It patches the kernel class right after spyder-kernels imports
 * it, keeping spyder-kernels' own import order (its customizations load
 * first). spyder-kernels 2.x wakes the loop through Spyder and has no such
 * method; it starts unchanged.
 */
const launcherSource = `
import importlib.abc, importlib.util, runpy, sys
try:
    from ipykernel import iostream
    _init = iostream.IOPubThread.__init__
    def _init_without_tcp_pipe(self, *args, **kwargs):
        kwargs['pipe'] = False
        _init(self, *args, **kwargs)
    iostream.IOPubThread.__init__ = _init_without_tcp_pipe
except Exception:
    pass

def _wake_eventloop_over_ipc(kernel_module):
    kernel_class = getattr(kernel_module, 'SpyderKernel', None)
    interrupt = getattr(kernel_class, 'interrupt_eventloop', None)
    if interrupt is None:
        return
    def interrupt_eventloop(self):
        if self.eventloop and getattr(self, 'loopback_socket', False) is None:
            import json, zmq
            info = json.loads(kernel_module.get_connection_info())
            if info.get('transport') == 'ipc':
                socket = self.shell_stream.socket.context.socket(zmq.DEALER)
                socket.connect('ipc://%s-%i' % (info['ip'], info['shell_port']))
                self.loopback_socket = socket
                self.shell_handlers['interrupt_eventloop'] = lambda stream, ident, parent: None
        interrupt(self)
    kernel_class.interrupt_eventloop = interrupt_eventloop

class _PatchAfterImport(importlib.abc.MetaPathFinder):
    def __init__(self, name, patch):
        self.name, self.patch = name, patch
    def find_spec(self, name, path, target=None):
        if name != self.name:
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None:
            return spec
        execute, patch = spec.loader.exec_module, self.patch
        def exec_module(module):
            execute(module)
            try:
                patch(module)
            except Exception:
                pass
        spec.loader.exec_module = exec_module
        return spec

module = sys.argv[1]
if module == 'spyder_kernels.console':
    sys.meta_path.insert(0, _PatchAfterImport('spyder_kernels.console.kernel', _wake_eventloop_over_ipc))
sys.argv = [module] + sys.argv[2:]
runpy.run_module(module, run_name='__main__', alter_sys=True)
`;

export function kernelArguments(module: 'spyder_kernels.console' | 'ipykernel_launcher', connectionFile: string): string[] {
	return ['-c', launcherSource, module, '-f', connectionFile];
}

/**
 * Whether a command line (argv, as /proc shows it) is a kernel started on
 * `connectionFile` by kernelArguments. Only the `-f FILE` tail is compared:
 * the launcher's source may differ in a kernel started by an older version.
 */
export function runsKernelOn(args: readonly string[], connectionFile: string): boolean {
	return args.length >= 3 && args.at(-2) === '-f' && args.at(-1) === connectionFile;
}
