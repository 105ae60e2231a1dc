import { fileURLToPath } from 'node:url';

/**
 * Where the installer puts things, and where it finds the files it ships.
 * The shipped files are found relative to this module, so the same code
 * installs from a checkout (server/dist/install/) and from an unpacked
 * release archive, which keeps the package's layout: dist/, pam/, systemd/.
 */
export const SERVICE_NAME = 'ssd-server.service';
export const UNIT_FILE = `/etc/systemd/system/${SERVICE_NAME}`;
export const CONFIG_DIRECTORY = '/etc/spyder-remote';
export const CONFIG_FILE = `${CONFIG_DIRECTORY}/config.json`;
export const PAM_SERVICE_FILE = '/etc/pam.d/spyder-remote';
/** Where the app is copied when the tree it runs from is not root's alone (an archive unpacked in a home, say). */
export const APP_COPY_DIRECTORY = '/opt/spyder-remote';

export const shippedPamServiceFile = fileURLToPath(new URL('../../pam/spyder-remote', import.meta.url));
export const shippedUnitTemplate = fileURLToPath(new URL('../../systemd/ssd-server.service', import.meta.url));
/** The daemon's entry point, as the unit starts it. */
export const daemonEntry = fileURLToPath(new URL('../bin/ssd-server.js', import.meta.url));
