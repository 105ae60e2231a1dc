/** A refusal of the installer, with a message for the administrator: printed without a stack. */
export class InstallError extends Error {
	override name = 'InstallError';
}
