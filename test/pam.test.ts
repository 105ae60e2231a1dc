import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import test from 'ava';
import { pamAuthenticate, pamServiceFor } from '../server/src/daemon/pam.js';
import { isRoot, withTestUsers, type TestUser } from './helpers/os-users.js';

const newUser = withTestUsers(test);
const service = pamServiceFor('spyder-remote');
const remoteHost = '192.0.2.7';

let user: TestUser;
let expiredUser: TestUser;

test.before(async () => {
	if (!isRoot) throw new Error('PAM tests must run as root (uid 0): they create OS accounts and read /etc/shadow');
	[user, expiredUser] = await Promise.all([newUser(), newUser({ expired: true })]);
});

test('right password is accepted', async (t) => {
	t.deepEqual(await pamAuthenticate({ service, user: user.name, password: user.password, remoteHost }), { ok: true });
});

test('wrong password is refused', async (t) => {
	const outcome = await pamAuthenticate({ service, user: user.name, password: `${user.password}x`, remoteHost });
	t.false(outcome.ok);
	t.log(outcome);
});

test('unknown user is refused', async (t) => {
	const outcome = await pamAuthenticate({ service, user: `ssdt_none_${randomBytes(4).toString('hex')}`, password: 'whatever' });
	t.false(outcome.ok);
});

test('expired account is refused even with the right password', async (t) => {
	const outcome = await pamAuthenticate({ service, user: expiredUser.name, password: expiredUser.password, remoteHost });
	t.false(outcome.ok);
	t.log(outcome);
	t.regex(outcome.ok ? '' : outcome.reason, /pam_acct_mgmt/);
});

test('a failing attempt does not block the event loop', async (t) => {
	let lastTick = performance.now();
	let maxGap = 0;
	const timer = setInterval(() => {
		const now = performance.now();
		maxGap = Math.max(maxGap, now - lastTick);
		lastTick = now;
	}, 10);
	const started = performance.now();
	try {
		const outcome = await pamAuthenticate({ service, user: user.name, password: 'definitely wrong', remoteHost });
		t.false(outcome.ok);
	} finally {
		clearInterval(timer);
	}
	const elapsed = performance.now() - started;
	maxGap = Math.max(maxGap, performance.now() - lastTick);
	t.log(`attempt took ${elapsed.toFixed(0)} ms, longest event-loop gap ${maxGap.toFixed(1)} ms`);
	// Without pam_unix's failure delay the gap measurement would prove nothing.
	t.true(elapsed > 1000, 'the failure delay should have happened');
	t.true(maxGap < 200, `event loop stalled for ${maxGap.toFixed(1)} ms`);
});

test('8 concurrent attempts all resolve correctly', async (t) => {
	const attempts = Array.from({ length: 8 }, (_, i) => ({ right: i % 2 === 0, password: i % 2 === 0 ? user.password : `wrong-${i}` }));
	const outcomes = await Promise.all(attempts.map(({ password }) => pamAuthenticate({ service, user: user.name, password, remoteHost })));
	t.deepEqual(
		outcomes.map((o) => o.ok),
		attempts.map((a) => a.right),
	);
});

test('NUL characters cannot truncate the user name', async (t) => {
	t.deepEqual(await pamAuthenticate({ service: 'other', user: 'root\0x', password: 'x' }), {
		ok: false,
		reason: 'NUL character in user',
	});
});

test('pamServiceFor falls back to "other" unless the service file exists', (t) => {
	t.is(pamServiceFor('login'), 'login');
	t.is(pamServiceFor(`ssd-none-${randomBytes(4).toString('hex')}`), 'other');
	t.is(pamServiceFor('../passwd'), 'other');
	t.is(pamServiceFor('..'), 'other');
});
