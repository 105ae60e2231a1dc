import { readFile } from 'node:fs/promises';
import test from 'ava';
import { withTestUsers, type TestUser } from './helpers/os-users.js';
import { startTestServer } from './helpers/server.js';
import { requireRoot } from './helpers/root.js';

const newUser = withTestUsers(test);
let user: TestUser;

test.before(async () => {
	requireRoot('session host tests need root: they create OS users');
	user = await newUser();
});

const alive = (pid: number) =>
	readFile(`/proc/${pid}/status`).then(
		() => true,
		() => false,
	);
const eventually = async (check: () => Promise<boolean>, timeoutMs: number) => {
	const deadline = Date.now() + timeoutMs;
	while (Date.now() < deadline) {
		if (await check()) return true;
		await new Promise((resolve) => setTimeout(resolve, 100));
	}
	return false;
};

test('connections of one user share one session host, which leaves when idle', async (t) => {
	const server = await startTestServer({ sessionHost: { idleTimeout: 1 } });
	try {
		const first = await server.open();
		await first.loginWithPassword(user.name, user.password);
		const second = await server.open();
		await second.loginWithPassword(user.name, user.password);
		const pid = (await first.whoami()).pid;
		t.is((await second.whoami()).pid, pid);
		t.is(server.server.sessionHostCount, 1);
		await first.close();
		await second.close();
		t.true(await eventually(async () => !(await alive(pid)), 5000), 'the idle host exited');
		const third = await server.open();
		await third.loginWithPassword(user.name, user.password);
		t.not((await third.whoami()).pid, pid, 'a new login starts a new host');
		await third.close();
	} finally {
		await server.stop();
	}
});

test('stopping the daemon leaves no session host behind', async (t) => {
	const server = await startTestServer();
	const session = await server.open();
	await session.loginWithPassword(user.name, user.password);
	const pid = (await session.whoami()).pid;
	await server.stop();
	t.true(await eventually(async () => !(await alive(pid)), 6000));
});
