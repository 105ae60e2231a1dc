// Every failed PAM login holds a libuv pool thread for pam_unix's 2-4 s delay; a bigger pool
// keeps file and crypto work flowing meanwhile. libuv reads this once, at first use of the pool,
// so this module is imported before anything else.
process.env.UV_THREADPOOL_SIZE ??= '16';
