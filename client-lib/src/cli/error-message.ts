import { HostKeyMismatchError, RemoteError, UnknownHostError } from '../errors.js';

/** The line ssd prints for a failure: the library's sentence, and what to do about it in ssd's own flags. */
export function errorMessage(error: Error): string {
	if (error instanceof HostKeyMismatchError) return `${error.message} Then pass it with --fingerprint.`;
	if (error instanceof UnknownHostError) return `${error.message} Then pass --fingerprint ${error.presented} (or --accept-new).`;
	if (error instanceof RemoteError) return `${error.message} (${error.codeName})`;
	return error.message;
}
