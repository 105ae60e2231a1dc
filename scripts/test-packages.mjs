// Debian packages the test suite drives for real. One list for this machine
// (scripts/ensure-installed.mjs) and for the Debian roots where newer
// Spyders are tested (test/helpers/debian-root.ts).

/** Accounts and PAM, setpriv, ss and ip netns, and Python with venv, pip and setuptools. */
export const basePackages = [
	'passwd',
	'util-linux',
	'libpam-modules',
	'libpam-runtime',
	'iproute2',
	'procps',
	'python3-venv',
	'python3-pip',
	'python3-setuptools',
];

/** The Spyder plugin's end-to-end test: Spyder with its kernels (and matplotlib for the Plots pane), driven headless by pytest-qt. */
export const spyderPackages = ['python3-spyder-kernels', 'spyder', 'python3-matplotlib', 'python3-pytest', 'python3-pytestqt'];

/** The service test (test/systemd-service.test.ts): systemd to boot as PID 1 in a sandbox (systemctl, journalctl, systemd-analyze), and mount for its overlay. */
export const servicePackages = ['systemd', 'mount'];

/** Building and checking the release assets (scripts/release/): zip for the Windows archive, unzip to look inside, lintian for the Debian package. */
export const releasePackages = ['zip', 'unzip', 'lintian'];

/** The Slurm lab of test/slurm.test.ts (scripts/slurm-lab.mjs): slurmctld, slurmd and their munge authentication. */
export const slurmPackages = ['slurm-wlm', 'munge'];
