import koffi from 'koffi';

// Koffi runs async calls on a stack of its own, 128 KiB by default: PAM's module stack
// overflows it and the whole daemon segfaults (seen with concurrent logins at 128 KiB).
const ASYNC_STACK_SIZE = 2 * 1024 * 1024;

export type NativeFunction = ReturnType<koffi.IKoffiLib['func']>;

/**
 * Loads a C library through koffi. Every native binding of the server comes
 * through here, because koffi accepts its configuration only before the
 * first library is loaded in the process.
 */
export function loadLibrary(name: string): koffi.IKoffiLib {
	if ((koffi.config().async_stack_size ?? 0) < ASYNC_STACK_SIZE) koffi.config({ async_stack_size: ASYNC_STACK_SIZE });
	return koffi.load(name);
}

/** Runs `fn` on a libuv thread-pool thread, so a blocking C call never stalls the event loop. */
export function callAsync(fn: NativeFunction, ...args: unknown[]): Promise<number> {
	return new Promise((resolve, reject) => {
		fn.async(...args, (error: unknown, result: number) => (error ? reject(error) : resolve(result)));
	});
}
