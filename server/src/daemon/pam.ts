import { statSync } from 'node:fs';
import koffi from 'koffi';
import { callAsync, loadLibrary, type NativeFunction } from '../common/native.js';

export type PamRefusal = { ok: false; reason: string };
export type PamOutcome = { ok: true } | PamRefusal;

export interface PamAccountRequest {
	service: string;
	user: string;
	remoteHost?: string;
}

export interface PamRequest extends PamAccountRequest {
	password: string;
}

/** An open PAM session; `close` ends it (once, however often it is called). */
export interface PamSession {
	close(): Promise<void>;
}

// Linux-PAM ABI constants (security/_pam_types.h); the headers are not installed on servers.
const PAM_SUCCESS = 0;
const PAM_CONV_ERR = 19;
const PAM_RHOST = 4;
const PAM_DISALLOW_NULL_AUTHTOK = 0x0001;
const PAM_ESTABLISH_CRED = 0x0002;
const PAM_DELETE_CRED = 0x0004;
const PAM_PROMPT_ECHO_OFF = 1;
const PAM_ERROR_MSG = 3;
const PAM_TEXT_INFO = 4;
const PAM_MAX_NUM_MSG = 32;

const PAM_CODE_NAMES = [
	'PAM_SUCCESS',
	'PAM_OPEN_ERR',
	'PAM_SYMBOL_ERR',
	'PAM_SERVICE_ERR',
	'PAM_SYSTEM_ERR',
	'PAM_BUF_ERR',
	'PAM_PERM_DENIED',
	'PAM_AUTH_ERR',
	'PAM_CRED_INSUFFICIENT',
	'PAM_AUTHINFO_UNAVAIL',
	'PAM_USER_UNKNOWN',
	'PAM_MAXTRIES',
	'PAM_NEW_AUTHTOK_REQD',
	'PAM_ACCT_EXPIRED',
	'PAM_SESSION_ERR',
	'PAM_CRED_UNAVAIL',
	'PAM_CRED_EXPIRED',
	'PAM_CRED_ERR',
	'PAM_NO_MODULE_DATA',
	'PAM_CONV_ERR',
	'PAM_AUTHTOK_ERR',
	'PAM_AUTHTOK_RECOVERY_ERR',
	'PAM_AUTHTOK_LOCK_BUSY',
	'PAM_AUTHTOK_DISABLE_AGING',
	'PAM_TRY_AGAIN',
	'PAM_IGNORE',
	'PAM_ABORT',
	'PAM_AUTHTOK_EXPIRED',
	'PAM_MODULE_UNKNOWN',
	'PAM_BAD_ITEM',
	'PAM_CONV_AGAIN',
	'PAM_INCOMPLETE',
];

interface Bindings {
	conversationType: koffi.IKoffiCType;
	messageType: koffi.IKoffiCType;
	responseSize: number;
	pam_start: NativeFunction;
	pam_set_item: NativeFunction;
	pam_authenticate: NativeFunction;
	pam_acct_mgmt: NativeFunction;
	pam_setcred: NativeFunction;
	pam_open_session: NativeFunction;
	pam_close_session: NativeFunction;
	pam_end: NativeFunction;
	calloc: NativeFunction;
	strdup: NativeFunction;
	free: NativeFunction;
}

let bindings: Bindings | undefined;

function load(): Bindings {
	if (bindings) return bindings;

	// Anonymous types: koffi's type names are process-global and could clash with other users.
	const handle = koffi.pointer(koffi.opaque());
	const messageType = koffi.struct({ msg_style: 'int', msg: 'const char *' });
	const responseType = koffi.struct({ resp: 'void *', resp_retcode: 'int' });
	// The message and response arrays are decoded and written by hand, hence plain pointers.
	const conversationType = koffi.proto('int', ['int', 'void *', 'void *', 'void *']);
	const conv = koffi.struct({ conv: koffi.pointer(conversationType), appdata_ptr: 'void *' });

	const pam = loadLibrary('libpam.so.0');
	// PAM frees the replies it is given, so they must come from the same malloc as PAM uses.
	const libc = loadLibrary('libc.so.6');

	bindings = {
		conversationType,
		messageType,
		responseSize: koffi.sizeof(responseType),
		pam_start: pam.func('pam_start', 'int', ['const char *', 'const char *', koffi.pointer(conv), koffi.out(koffi.pointer(handle))]),
		pam_set_item: pam.func('pam_set_item', 'int', [handle, 'int', 'const char *']),
		pam_authenticate: pam.func('pam_authenticate', 'int', [handle, 'int']),
		pam_acct_mgmt: pam.func('pam_acct_mgmt', 'int', [handle, 'int']),
		pam_setcred: pam.func('pam_setcred', 'int', [handle, 'int']),
		pam_open_session: pam.func('pam_open_session', 'int', [handle, 'int']),
		pam_close_session: pam.func('pam_close_session', 'int', [handle, 'int']),
		pam_end: pam.func('pam_end', 'int', [handle, 'int']),
		calloc: libc.func('calloc', 'void *', ['size_t', 'size_t']),
		strdup: libc.func('strdup', 'void *', ['const char *']),
		free: libc.func('free', 'void', ['void *']),
	};
	return bindings;
}

// Each in-flight call occupies a libuv thread-pool thread for the whole (possibly seconds-long)
// failure delay; bounding them keeps fs, dns and crypto work of the daemon from starving.
const maxInFlight = Math.max(1, Math.floor((Number(process.env.UV_THREADPOOL_SIZE) || 4) / 2));
let inFlight = 0;
const waiting: Array<() => void> = [];

async function withSlot<T>(work: () => Promise<T>): Promise<T> {
	if (inFlight >= maxInFlight) await new Promise<void>((resolve) => waiting.push(resolve));
	else inFlight++;
	try {
		return await work();
	} finally {
		const next = waiting.shift();
		if (next) next();
		else inFlight--;
	}
}

function codeName(code: number): string {
	return PAM_CODE_NAMES[code] ?? `PAM error ${code}`;
}

/**
 * Answers password prompts with `password`. Anything else that wants an answer (echo-on
 * prompts, binary prompts, and every prompt when there is no password) is refused: there is
 * nobody to ask, and handing the password to an unexpected prompt could leak it.
 * Informational texts are collected for the log.
 */
function conversation(b: Bindings, password: string | undefined, notes: string[]) {
	return (count: number, messages: unknown, responses: unknown): number => {
		// If this throws, koffi hands 0 (PAM_SUCCESS) to PAM, with *resp unset.
		try {
			koffi.encode(responses, 'void *', null);
			if (count <= 0 || count > PAM_MAX_NUM_MSG) return PAM_CONV_ERR;

			const items = (koffi.decode(messages, 'void *', count) as unknown[]).map(
				(p) => koffi.decode(p, b.messageType) as { msg_style: number; msg: string | null },
			);
			for (const { msg_style, msg } of items) {
				if (msg_style === PAM_ERROR_MSG || msg_style === PAM_TEXT_INFO) {
					if (msg) notes.push(msg.trim());
				} else if (msg_style !== PAM_PROMPT_ECHO_OFF || password === undefined) {
					notes.push(`refused PAM prompt style ${msg_style}: ${msg ?? ''}`.trim());
					return PAM_CONV_ERR;
				}
			}

			const array = b.calloc(count, b.responseSize);
			if (!array) return PAM_CONV_ERR;
			for (const [i, { msg_style }] of items.entries()) {
				if (msg_style !== PAM_PROMPT_ECHO_OFF) continue;
				const copy = b.strdup(password!);
				if (!copy) {
					for (let j = 0; j < i; j++) b.free(koffi.decode(array, j * b.responseSize, 'void *'));
					b.free(array);
					return PAM_CONV_ERR;
				}
				koffi.encode(array, i * b.responseSize, 'void *', copy);
			}
			koffi.encode(responses, 'void *', array);
			return PAM_SUCCESS;
		} catch (err) {
			notes.push(`conversation failed: ${String(err)}`);
			return PAM_CONV_ERR;
		}
	};
}

/** One PAM handle with its conversation, from pam_start to pam_end. */
class Transaction {
	/** The last status, handed to pam_end as modules expect. */
	private status = PAM_SUCCESS;

	private constructor(
		private readonly b: Bindings,
		private readonly pamh: unknown,
		private readonly callback: koffi.IKoffiRegisteredCallback,
		/** What the modules said through the conversation, for the log. */
		private readonly notes: string[],
	) {}

	/** A started transaction, or the refusal when pam_start or pam_set_item fails. */
	static async start(b: Bindings, request: PamAccountRequest, password: string | undefined): Promise<Transaction | PamRefusal> {
		const notes: string[] = [];
		const callback = koffi.register(conversation(b, password, notes), koffi.pointer(b.conversationType));
		const handleOut: unknown[] = [null];
		// pam_start reads configuration and dlopen()s modules, which may touch slow storage.
		const status = await callAsync(b.pam_start, request.service, request.user, { conv: callback, appdata_ptr: null }, handleOut);
		if (status !== PAM_SUCCESS || !handleOut[0]) {
			koffi.unregister(callback);
			return refusal(status, 'pam_start', notes);
		}
		const transaction = new Transaction(b, handleOut[0], callback, notes);
		if (request.remoteHost !== undefined) {
			const failure = transaction.check(b.pam_set_item(transaction.pamh, PAM_RHOST, request.remoteHost), 'pam_set_item(PAM_RHOST)');
			if (failure) {
				await transaction.end();
				return failure;
			}
		}
		return transaction;
	}

	/** Runs one PAM step off the main thread; undefined on success, else the refusal. */
	async run(step: string, fn: NativeFunction, flags: number): Promise<PamRefusal | undefined> {
		return this.check(await callAsync(fn, this.pamh, flags), step);
	}

	private check(status: number, step: string): PamRefusal | undefined {
		this.status = status;
		return status === PAM_SUCCESS ? undefined : refusal(status, step, this.notes);
	}

	async end(): Promise<void> {
		try {
			// Modules' cleanup hooks may do I/O (e.g. faillock/lastlog writes).
			await callAsync(this.b.pam_end, this.pamh, this.status);
		} finally {
			// Only after pam_end: PAM keeps a copy of the conversation pointer until then.
			koffi.unregister(this.callback);
		}
	}
}

function refusal(code: number, step: string, notes: string[]): PamRefusal {
	return { ok: false, reason: `${codeName(code)} from ${step}` + (notes.length ? ` (${notes.join('; ')})` : '') };
}

/** The checks every entry point shares, then `work` in a thread-pool slot. */
async function guarded<T>(request: PamAccountRequest & { password?: string }, work: (b: Bindings) => Promise<T>): Promise<T | PamRefusal> {
	// C strings end at the first NUL: "root\0x" would authenticate as "root".
	for (const [field, value] of Object.entries(request)) {
		if (typeof value === 'string' && value.includes('\0')) return { ok: false, reason: `NUL character in ${field}` };
	}
	if (!request.user) return { ok: false, reason: 'empty user name' };
	const b = load();
	return withSlot(() => work(b));
}

/** One transaction that runs `steps` in order and ends, whatever happens. */
async function runSteps(
	b: Bindings,
	request: PamAccountRequest,
	password: string | undefined,
	steps: Array<[string, NativeFunction, number]>,
): Promise<PamOutcome> {
	const transaction = await Transaction.start(b, request, password);
	if (!(transaction instanceof Transaction)) return transaction;
	try {
		for (const [step, fn, flags] of steps) {
			const failure = await transaction.run(step, fn, flags);
			if (failure) return failure;
		}
		return { ok: true };
	} finally {
		await transaction.end();
	}
}

/**
 * Checks `user`'s password and account validity through PAM, off the main thread.
 * Resolves `{ ok: false }` for every authentication or account failure; rejects only when
 * koffi or libpam cannot be used at all.
 */
export async function pamAuthenticate(request: PamRequest): Promise<PamOutcome> {
	return guarded(request, (b) =>
		runSteps(b, request, request.password, [
			['pam_authenticate', b.pam_authenticate, PAM_DISALLOW_NULL_AUTHTOK],
			// Refuses expired accounts and passwords that must be changed first (PAM_NEW_AUTHTOK_REQD).
			['pam_acct_mgmt', b.pam_acct_mgmt, PAM_DISALLOW_NULL_AUTHTOK],
		]),
	);
}

/**
 * PAM's account stack alone, for logins that PAM did not authenticate (keys),
 * as sshd does with UsePAM: expired accounts, pam_nologin, pam_access and the
 * like refuse these too. Resolves and rejects as pamAuthenticate does.
 */
export async function pamCheckAccount(request: PamAccountRequest): Promise<PamOutcome> {
	return guarded(request, (b) => runSteps(b, request, undefined, [['pam_acct_mgmt', b.pam_acct_mgmt, PAM_DISALLOW_NULL_AUTHTOK]]));
}

/**
 * Opens a PAM session (pam_setcred(PAM_ESTABLISH_CRED), then pam_open_session)
 * that lasts until `close`, which closes it, deletes the credentials and ends
 * the transaction. It has a transaction of its own, not the login's: one
 * session host serves every login of its user, by password or key, and
 * outlives the connection that started it, so its session must not hang on
 * any one login. The modules act in the daemon's process, which is why the
 * PAM file keeps out those that change the calling process (see
 * server/pam/spyder-remote).
 */
export async function pamOpenSession(request: PamAccountRequest): Promise<{ ok: true; session: PamSession } | PamRefusal> {
	return guarded(request, async (b) => {
		const transaction = await Transaction.start(b, request, undefined);
		if (!(transaction instanceof Transaction)) return transaction;
		const credentialFailure = await transaction.run('pam_setcred(PAM_ESTABLISH_CRED)', b.pam_setcred, PAM_ESTABLISH_CRED);
		const failure = credentialFailure ?? (await transaction.run('pam_open_session', b.pam_open_session, 0));
		if (failure) {
			if (!credentialFailure) await transaction.run('pam_setcred(PAM_DELETE_CRED)', b.pam_setcred, PAM_DELETE_CRED);
			await transaction.end();
			return failure;
		}
		let closing: Promise<void> | undefined;
		const close = () =>
			withSlot(async () => {
				try {
					await transaction.run('pam_close_session', b.pam_close_session, 0);
					await transaction.run('pam_setcred(PAM_DELETE_CRED)', b.pam_setcred, PAM_DELETE_CRED);
				} finally {
					await transaction.end();
				}
			});
		return { ok: true as const, session: { close: () => (closing ??= close()) } };
	});
}

/** `preferred` if its PAM service file is installed, else `other` (PAM's fallback service). */
export function pamServiceFor(preferred: string): string {
	if (!/^[A-Za-z0-9_.-]+$/.test(preferred) || preferred === '.' || preferred === '..') return 'other';
	return statSync(`/etc/pam.d/${preferred}`, { throwIfNoEntry: false })?.isFile() ? preferred : 'other';
}
