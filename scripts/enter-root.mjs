// Run by runInRoot (debian-root.mjs) inside a fresh private mount namespace:
// mounts what a root needs, then runs the command there through chroot with
// exactly the given environment. The mounts go with the namespace.
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

const [directory, bindsJson, envJson, cwd, file, ...args] = process.argv.slice(2);
const mount = (...mountArgs) => execFileSync('mount', mountArgs, { stdio: 'inherit' });
mount('-t', 'proc', 'proc', join(directory, 'proc'));
mount('-t', 'sysfs', 'sysfs', join(directory, 'sys'));
mount('--bind', '/dev', join(directory, 'dev'));
mount('--bind', '/dev/pts', join(directory, 'dev/pts'));
mount('-t', 'tmpfs', '-o', 'mode=1777,nosuid,nodev', 'shm', join(directory, 'dev/shm'));
for (const source of JSON.parse(bindsJson)) {
	mkdirSync(join(directory, source), { recursive: true });
	mount('--bind', source, join(directory, source));
}
// env --chdir: chroot itself always starts in the new root's /.
const child = spawn('chroot', [directory, '/usr/bin/env', `--chdir=${cwd}`, file, ...args], { stdio: 'inherit', env: JSON.parse(envJson) });
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 128 : 1)));
