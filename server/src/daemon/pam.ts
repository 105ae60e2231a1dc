import { statSync } from 'node:fs';
import koffi from 'koffi';
import { callAsync, loadLibrary, type NativeFunction } from '../common/native.js';

export type PamOutcome = { ok: true } | { ok: false; reason: string };

export interface PamRequest {
  service: string;
  user: string;
  password: string;
  remoteHost?: string;
}

// Linux-PAM ABI constants (security/_pam_types.h); the headers are not installed on servers.
const PAM_SUCCESS = 0;
const PAM_CONV_ERR = 19;
const PAM_RHOST = 4;
const PAM_DISALLOW_NULL_AUTHTOK = 0x0001;
const PAM_PROMPT_ECHO_OFF = 1;
const PAM_ERROR_MSG = 3;
const PAM_TEXT_INFO = 4;
const PAM_MAX_NUM_MSG = 32;

const PAM_CODE_NAMES = [
  'PAM_SUCCESS', 'PAM_OPEN_ERR', 'PAM_SYMBOL_ERR', 'PAM_SERVICE_ERR', 'PAM_SYSTEM_ERR', 'PAM_BUF_ERR',
  'PAM_PERM_DENIED', 'PAM_AUTH_ERR', 'PAM_CRED_INSUFFICIENT', 'PAM_AUTHINFO_UNAVAIL', 'PAM_USER_UNKNOWN',
  'PAM_MAXTRIES', 'PAM_NEW_AUTHTOK_REQD', 'PAM_ACCT_EXPIRED', 'PAM_SESSION_ERR', 'PAM_CRED_UNAVAIL',
  'PAM_CRED_EXPIRED', 'PAM_CRED_ERR', 'PAM_NO_MODULE_DATA', 'PAM_CONV_ERR', 'PAM_AUTHTOK_ERR',
  'PAM_AUTHTOK_RECOVERY_ERR', 'PAM_AUTHTOK_LOCK_BUSY', 'PAM_AUTHTOK_DISABLE_AGING', 'PAM_TRY_AGAIN',
  'PAM_IGNORE', 'PAM_ABORT', 'PAM_AUTHTOK_EXPIRED', 'PAM_MODULE_UNKNOWN', 'PAM_BAD_ITEM', 'PAM_CONV_AGAIN',
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
 * prompts, binary prompts) is refused: there is nobody to ask, and handing the password to an
 * unexpected prompt could leak it. Informational texts are collected for the log.
 */
function conversation(b: Bindings, password: string, notes: string[]) {
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
        } else if (msg_style !== PAM_PROMPT_ECHO_OFF) {
          notes.push(`refused PAM prompt style ${msg_style}: ${msg ?? ''}`.trim());
          return PAM_CONV_ERR;
        }
      }

      const array = b.calloc(count, b.responseSize);
      if (!array) return PAM_CONV_ERR;
      for (const [i, { msg_style }] of items.entries()) {
        if (msg_style !== PAM_PROMPT_ECHO_OFF) continue;
        const copy = b.strdup(password);
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

async function transaction(b: Bindings, request: PamRequest): Promise<PamOutcome> {
  const notes: string[] = [];
  const fail = (code: number, step: string): PamOutcome => ({
    ok: false,
    reason: `${codeName(code)} from ${step}` + (notes.length ? ` (${notes.join('; ')})` : ''),
  });

  const callback = koffi.register(conversation(b, request.password, notes), koffi.pointer(b.conversationType));
  try {
    const handleOut: unknown[] = [null];
    // pam_start reads configuration and dlopen()s modules, which may touch slow storage.
    let status = await callAsync(b.pam_start, request.service, request.user, { conv: callback, appdata_ptr: null }, handleOut);
    const pamh = handleOut[0];
    if (status !== PAM_SUCCESS || !pamh) return fail(status, 'pam_start');

    try {
      if (request.remoteHost !== undefined) {
        status = b.pam_set_item(pamh, PAM_RHOST, request.remoteHost);
        if (status !== PAM_SUCCESS) return fail(status, 'pam_set_item(PAM_RHOST)');
      }
      status = await callAsync(b.pam_authenticate, pamh, PAM_DISALLOW_NULL_AUTHTOK);
      if (status !== PAM_SUCCESS) return fail(status, 'pam_authenticate');
      // Refuses expired accounts and passwords that must be changed first (PAM_NEW_AUTHTOK_REQD).
      status = await callAsync(b.pam_acct_mgmt, pamh, PAM_DISALLOW_NULL_AUTHTOK);
      if (status !== PAM_SUCCESS) return fail(status, 'pam_acct_mgmt');
      return { ok: true };
    } finally {
      // Modules' cleanup hooks may do I/O (e.g. faillock/lastlog writes).
      await callAsync(b.pam_end, pamh, status);
    }
  } finally {
    // Only after pam_end: PAM keeps a copy of the conversation pointer until then.
    koffi.unregister(callback);
  }
}

/**
 * Checks `user`'s password and account validity through PAM, off the main thread.
 * Resolves `{ ok: false }` for every authentication or account failure; rejects only when
 * koffi or libpam cannot be used at all.
 */
export async function pamAuthenticate(request: PamRequest): Promise<PamOutcome> {
  // C strings end at the first NUL: "root\0x" would authenticate as "root".
  for (const [field, value] of Object.entries(request)) {
    if (typeof value === 'string' && value.includes('\0')) return { ok: false, reason: `NUL character in ${field}` };
  }
  if (!request.user) return { ok: false, reason: 'empty user name' };
  const b = load();
  return withSlot(() => transaction(b, request));
}

/** `preferred` if its PAM service file is installed, else `other` (PAM's fallback service). */
export function pamServiceFor(preferred: string): string {
  if (!/^[A-Za-z0-9_.-]+$/.test(preferred) || preferred === '.' || preferred === '..') return 'other';
  return statSync(`/etc/pam.d/${preferred}`, { throwIfNoEntry: false })?.isFile() ? preferred : 'other';
}
