import { readFileSync } from 'node:fs';
import { checkServerIdentity } from 'node:tls';
import { ALPN_PROTOCOL, isCompatibleVersion, PROTOCOL_VERSION, type InitializeResult } from '@spyder-remote/protocol';
import { checks } from './catalogue.js';
import { authFailureChecks } from './checks/auth-failures.js';
import { environmentChecks } from './checks/environments.js';
import { framingChecks } from './checks/framing.js';
import { kernelChecks } from './checks/kernels.js';
import { placementChecks } from './checks/placement.js';
import { lifecycleChecks, versionChecks } from './checks/lifecycle.js';
import { preLoginChecks } from './checks/pre-login.js';
import { passwordLogin, sessionChecks } from './checks/session.js';
import { transportChecks } from './checks/transport.js';
import { Context } from './context.js';
import { Recorder, type CheckResult } from './recorder.js';
import { assert, assertShape, fingerprintOf, openTls, RpcPeer, type Target } from './wire.js';

export { checks, specAnchor, specHeadings, type CheckDefinition, type SpecSection } from './catalogue.js';
export type { CheckResult, Status } from './recorder.js';

export const TOOL_VERSION: string = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version;

export interface ConformanceOptions {
	readonly host: string;
	readonly port: number;
	/** An account on the server that may log in with a password; the suite makes and removes a venv and a kernel as it. */
	readonly user: string;
	readonly password: string;
	/** The certificate fingerprint the server must present. Without it, a CA must vouch for the certificate. */
	readonly fingerprint?: string;
	/** Called as each check finishes, in the order they run. */
	readonly onResult?: (result: CheckResult) => void;
}

export interface ConformanceReport {
	readonly tool: { readonly name: 'ssd-conformance'; readonly version: string; readonly protocolVersion: string };
	readonly server: {
		readonly host: string;
		readonly port: number;
		readonly fingerprint: string;
		readonly serverInfo?: InitializeResult['serverInfo'];
		readonly protocolVersion?: string;
	};
	/** In catalogue order, one per check. */
	readonly results: readonly CheckResult[];
	readonly summary: { readonly passed: number; readonly failed: number; readonly notApplicable: number };
}

/**
 * The server could not be trusted with the password, so nothing was sent:
 * it presented `presented`, and either not the `expected` fingerprint the
 * caller gave or, with none given, a certificate no CA vouches for.
 */
export class UntrustedServerError extends Error {
	constructor(
		readonly server: string,
		readonly presented: string,
		readonly expected: string | undefined,
	) {
		super(
			expected === undefined
				? `no CA vouches for ${server}, which presented ${presented}; nothing was sent`
				: `${server} presented ${presented}, not the fingerprint given (${expected}); nothing was sent`,
		);
	}
}

/** Looks at the certificate before anything is sent, as 5.7 demands of every client. */
async function identify(options: ConformanceOptions): Promise<Target> {
	const socket = await openTls(options.host, options.port, [ALPN_PROTOCOL], 10_000);
	const certificate = socket.getPeerCertificate();
	const presented = fingerprintOf(certificate.raw);
	const vouched = socket.authorized && checkServerIdentity(options.host, certificate) === undefined;
	socket.destroy();
	if (options.fingerprint === undefined ? !vouched : options.fingerprint !== presented) {
		throw new UntrustedServerError(`${options.host}:${options.port}`, presented, options.fingerprint);
	}
	return { host: options.host, port: options.port, fingerprint: presented };
}

/** Runs every check against one server. Rejects only when the server cannot be reached or trusted. */
export async function runConformance(options: ConformanceOptions): Promise<ConformanceReport> {
	const record = new Recorder(options.onResult);
	const target = await identify(options);
	await transportChecks(target, record, options.fingerprint);
	let initialized: InitializeResult | undefined;
	await record.run('lifecycle.initialize', async () => {
		const peer = await RpcPeer.open(target);
		try {
			const result = await peer.initialize();
			assertShape('initialize', 'result', result);
			assert(
				isCompatibleVersion(PROTOCOL_VERSION, result.protocolVersion),
				`the server speaks protocol ${result.protocolVersion}; this suite checks ${PROTOCOL_VERSION}`,
			);
			initialized = result;
		} finally {
			peer.destroy();
		}
	});
	if (initialized) await runAfterInitialize(new Context(target, options.user, options.password, record, initialized));
	else
		record.blocked(
			checks.map((definition) => definition.id),
			'initialize failed',
		);
	const results = record.results();
	return {
		tool: { name: 'ssd-conformance', version: TOOL_VERSION, protocolVersion: PROTOCOL_VERSION },
		server: { ...target, ...(initialized ? { serverInfo: initialized.serverInfo, protocolVersion: initialized.protocolVersion } : {}) },
		results,
		summary: {
			passed: results.filter((result) => result.status === 'pass').length,
			failed: results.filter((result) => result.status === 'fail').length,
			notApplicable: results.filter((result) => result.status === 'n/a').length,
		},
	};
}

async function runAfterInitialize(context: Context): Promise<void> {
	const { record } = context;
	const loggedIn = [sessionChecks, environmentChecks, kernelChecks, placementChecks];
	try {
		for (const checkGroup of [lifecycleChecks, versionChecks, framingChecks, preLoginChecks]) await checkGroup.run(context);
		if (!context.initialize.capabilities.authMethods.includes('password')) {
			const why = 'the server does not offer password login, which this suite logs in with';
			record.notApplicable(['auth.password', ...loggedIn.flatMap((checkGroup) => checkGroup.ids)], why);
		} else if (await record.run('auth.password', () => passwordLogin(context))) {
			for (const checkGroup of loggedIn) await checkGroup.run(context);
		} else {
			for (const checkGroup of loggedIn) record.blocked(checkGroup.ids, 'the password login failed');
		}
		await authFailureChecks.run(context);
	} finally {
		await context.close();
	}
}

const label: Record<CheckResult['status'], string> = { pass: 'PASS', fail: 'FAIL', 'n/a': 'N/A ' };

/** The report for people: one line per check, the reason under each failure and beside each N/A. */
export function formatReport(report: ConformanceReport): string {
	const { server, summary } = report;
	const width = Math.max(...report.results.map((result) => result.section.length)) + 1;
	const lines = [
		`ssd-conformance ${report.tool.version}, checking protocol ${report.tool.protocolVersion}`,
		`server ${server.host}:${server.port}: ${server.serverInfo ? `${server.serverInfo.name} ${server.serverInfo.version ?? ''}`.trim() : 'unknown'}, protocol ${server.protocolVersion ?? 'unknown'}, certificate ${server.fingerprint}`,
		'§ = section of the specification, spec/README.md',
		'',
	];
	for (const result of report.results) {
		const line = `${label[result.status]}  ${`§${result.section}`.padEnd(width)}  ${result.title}`;
		if (result.status === 'n/a') lines.push(`${line} (${result.detail})`);
		else lines.push(line);
		if (result.status === 'fail') lines.push(`${' '.repeat(width + 8)}${result.detail}`);
	}
	lines.push('', `${report.results.length} checks: ${summary.passed} passed, ${summary.failed} failed, ${summary.notApplicable} not applicable`);
	return `${lines.join('\n')}\n`;
}
