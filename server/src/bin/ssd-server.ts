#!/usr/bin/env node
import './threadpool.js';
import { userInfo } from 'node:os';
import { parseArgs } from 'node:util';
import { raiseDescriptorLimit } from '../common/rlimit.js';
import { DEFAULT_PORT } from '@spyder-remote/protocol';
import { ConfigError, isSystemMode, loadConfigFile, resolveConfig, type ConfigOverrides } from '../daemon/config.js';
import { ensureIdentity } from '../daemon/certificate.js';
import { startServer } from '../daemon/daemon.js';
import { notifySystemd, restartIsQueued } from '../daemon/systemd.js';
import { install, status, uninstall } from '../install/commands.js';
import { InstallError } from '../install/install-error.js';
import { installPamService } from '../install/pam-service.js';
import { createLogger, type Logger } from '../common/log.js';
import { runsAsRoot } from '../common/privilege.js';
import { SERVER_VERSION } from '../common/version.js';

const usage = `Usage: ssd-server <command> [options]

Commands:
  start         run the daemon in the foreground (logs go to stderr as JSON lines)
  init          create the state directory and a self-signed certificate; as root, also
                install the PAM service file /etc/pam.d/spyder-remote
  fingerprint   print the SHA-256 fingerprint of the server certificate
  install       as root: set up the systemd service ssd-server.service (config in
                /etc/spyder-remote, state, certificate, PAM service), enable and start it
  uninstall     as root: stop and remove the service and what install made
                (--purge: also the state and the config)
  status        whether the service runs, its config, and which users have sessions

Options:
  --config FILE     JSON config file (see server/README.md for every key and its default)
  --host ADDR       listen address (config listen.host)
  --port N          listen port (config listen.port, default ${DEFAULT_PORT})
  --embedded        the built-in config used by \`npm start\`: personal mode on 127.0.0.1
  --log-level L     fatal|error|warn|info|debug|trace
  --cert FILE, --key FILE
                    install: a CA-signed certificate and its key instead of a self-signed one
  --purge           uninstall: also remove the state directory and /etc/spyder-remote
  -h, --help        this text
  -v, --version     the server version
`;

async function main(argv: string[]): Promise<number> {
	const { values, positionals } = parseArgs({
		args: argv,
		allowPositionals: true,
		options: {
			config: { type: 'string' },
			host: { type: 'string' },
			port: { type: 'string' },
			embedded: { type: 'boolean' },
			'log-level': { type: 'string' },
			cert: { type: 'string' },
			key: { type: 'string' },
			purge: { type: 'boolean' },
			help: { type: 'boolean', short: 'h' },
			version: { type: 'boolean', short: 'v' },
		},
	});
	if (values.help) {
		process.stdout.write(usage);
		return 0;
	}
	if (values.version) {
		process.stdout.write(`${SERVER_VERSION}\n`);
		return 0;
	}
	const command = positionals[0];
	if (!command || positionals.length > 1 || !['start', 'init', 'fingerprint', 'install', 'uninstall', 'status'].includes(command)) {
		process.stderr.write(usage);
		return 2;
	}
	const say = (line: string) => process.stdout.write(`${line}\n`);
	if (command === 'install') {
		const port = values.port === undefined ? undefined : parsePort(values.port);
		await install({ host: values.host, port, certFile: values.cert, keyFile: values.key }, say);
		return 0;
	}
	if (command === 'uninstall') {
		await uninstall(values.purge ?? false, say);
		return 0;
	}
	if (command === 'status') return status(say);

	const overrides: ConfigOverrides = {};
	if (values.embedded) Object.assign(overrides, { mode: 'personal', listen: { host: '127.0.0.1', port: DEFAULT_PORT } });
	if (values.host) overrides.listen = { ...overrides.listen, host: values.host };
	if (values.port !== undefined) overrides.listen = { ...overrides.listen, port: parsePort(values.port) };
	if (values['log-level']) overrides.logLevel = values['log-level'] as ConfigOverrides['logLevel'];
	const config = resolveConfig(values.config ? await loadConfigFile(values.config) : {}, overrides);

	if (command === 'fingerprint' || command === 'init') {
		const identity = await ensureIdentity({
			stateDir: config.stateDir,
			certFile: config.tls.certFile,
			keyFile: config.tls.keyFile,
			hostnames: config.tls.hostnames,
		});
		if (command === 'fingerprint') {
			process.stdout.write(`${identity.fingerprint}\n`);
			return 0;
		}
		process.stdout.write(`${identity.created ? 'created' : 'kept'} certificate ${identity.certFile}\nfingerprint ${identity.fingerprint}\n`);
		if (process.geteuid?.() === 0) say(await installPamService());
		return 0;
	}

	const logger = createLogger(config.logLevel);
	raiseOpenFileLimit(logger);
	const server = await startServer(config, logger);
	const who = isSystemMode(config) ? 'system mode: serves every OS user' : `personal mode: serves only ${userInfo().username}`;
	const hostArg = server.host.includes(':') ? `[${server.host}]` : server.host;
	const userArg = isSystemMode(config) ? 'USER' : userInfo().username;
	process.stdout.write(
		`ssd-server ${SERVER_VERSION} listening on ${hostArg}:${server.port} (${who})\n` +
			`certificate fingerprint: ${server.fingerprint}\n` +
			`connect with: npx ssd login ${server.host === '0.0.0.0' || server.host === '::' ? 'HOST' : hostArg}:${server.port} --user ${userArg} --fingerprint ${server.fingerprint}\n` +
			// Personal mode as root serves only root, and root logs in only with auth.permitRoot: say so rather than print a command that fails.
			(!isSystemMode(config) && runsAsRoot() && !config.auth.permitRoot
				? 'note: running as root in personal mode, so nobody can log in (auth.permitRoot is false). Run npm start as your own user, or run ssd-server with a system-mode config.\n'
				: ''),
	);
	// Under systemd (Type=notify), `systemctl start` returns now: the daemon listens and the leftovers are dealt with.
	notifySystemd('READY=1');
	await new Promise<void>((resolve) => {
		let stopping = false;
		// A second Ctrl-C while the stop waits for session hosts leaves at once, as it did when the listener went after the first.
		const stop = () => {
			if (stopping) process.exit(130);
			stopping = true;
			resolve();
		};
		// Kept registered (on, not once): execa's cleanup (signal-exit) acts on a signal only when no other listener
		// is left, and once removes ours before the listeners run. It then SIGTERMed every session host and re-raised the
		// signal, so the daemon died without its own stop (no hand-over on a restart) whenever a host was spawned after this.
		process.on('SIGINT', stop);
		process.on('SIGTERM', stop);
	});
	notifySystemd('STOPPING=1');
	// A restart keeps the users' kernels: the next daemon's session hosts adopt them. A stop stops them.
	await server.close({ handOver: await restartIsQueued() });
	return 0;
}

function parsePort(text: string): number {
	if (!/^\d+$/.test(text)) throw new ConfigError(`--port ${text} is not a port number`);
	return Number(text);
}

/** Every connection and session costs descriptors: the daemon takes all the hard limit allows, and says how many that is. */
function raiseOpenFileLimit(logger: Logger): void {
	try {
		const limit = raiseDescriptorLimit();
		logger.info({ softBefore: limit.previous, soft: limit.soft, hard: limit.hard }, 'open file limit (RLIMIT_NOFILE)');
	} catch (error) {
		logger.warn({ err: (error as Error).message }, 'cannot raise the open file limit');
	}
}

main(process.argv.slice(2)).then(
	(code) => process.exit(code),
	(error: Error) => {
		process.stderr.write(`ssd-server: ${error instanceof ConfigError || error instanceof InstallError ? error.message : (error.stack ?? error.message)}\n`);
		process.exit(error instanceof ConfigError || (error as NodeJS.ErrnoException).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' ? 2 : 1);
	},
);
