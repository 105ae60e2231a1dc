/**
 * How kernels are started: `python -c LAUNCHER <module> -f <connection file>`.
 *
 * ipykernel's IOPubThread binds a PULL socket on a random 127.0.0.1 TCP
 * port (to collect output from forked children), whatever the transport.
 * Any local user could connect to it. The launcher turns that pipe off
 * before the kernel module runs, so the kernel listens on Unix sockets
 * only. The cost: output printed by forked children (multiprocessing with
 * fork) is not shown in the console, as when running ipykernel with
 * pipe=False. Kernels whose IOPubThread lacks the option start unchanged.
 */
const launcherSource = `
import runpy, sys
try:
    from ipykernel import iostream
    _init = iostream.IOPubThread.__init__
    def _init_without_tcp_pipe(self, *args, **kwargs):
        kwargs['pipe'] = False
        _init(self, *args, **kwargs)
    iostream.IOPubThread.__init__ = _init_without_tcp_pipe
except Exception:
    pass
module = sys.argv[1]
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
