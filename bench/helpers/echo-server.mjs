// Child process for bench/rpc.ts: trivial JSON-RPC servers that answer
// `session/ping` with `{}`, so the client side can be compared against the
// real daemon + session host. Plain JavaScript run by plain `node` (no tsx),
// like the session host itself.
//
//   stock TCP  — vscode-jsonrpc's own SocketMessageReader/Writer (the baseline)
//   framed TCP — @spyder-remote/protocol's createProtocolConnection over TCP
//   framed TLS — the same over TLS 1.3 with the daemon's certificate (no relay)
//
// Listens on 127.0.0.1 only, prints one JSON line with the ports, and exits
// when stdin closes (the parent went away) or on SIGTERM.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { createMessageConnection, SocketMessageReader, SocketMessageWriter } from 'vscode-jsonrpc/node';
import { createProtocolConnection } from '@spyder-remote/protocol/node';

const [certFile, keyFile] = process.argv.slice(2);
const PING = 'session/ping';
const sockets = new Set();

function track(socket) {
	sockets.add(socket);
	socket.on('close', () => sockets.delete(socket));
	socket.on('error', () => undefined);
}

const stock = createServer({ noDelay: true }, (socket) => {
	track(socket);
	socket.setNoDelay(true);
	const connection = createMessageConnection(new SocketMessageReader(socket), new SocketMessageWriter(socket));
	connection.onRequest(PING, () => ({}));
	connection.onError(() => undefined);
	connection.listen();
});

function serveFramed(socket) {
	track(socket);
	const { connection } = createProtocolConnection(socket);
	connection.onRequest(PING, () => ({}));
	connection.onError(() => undefined);
	connection.listen();
}

const framed = createServer({ noDelay: true }, serveFramed);
const servers = [stock, framed];
let tls;
if (certFile && keyFile) {
	tls = createTlsServer({ cert: readFileSync(certFile), key: readFileSync(keyFile), minVersion: 'TLSv1.3', ALPNProtocols: ['spyder-remote/1'] }, serveFramed);
	tls.on('connection', (raw) => raw.setNoDelay(true));
	servers.push(tls);
}

const listen = (server) =>
	new Promise((resolve, reject) => {
		server.once('error', reject);
		server.listen(0, '127.0.0.1', () => resolve(server.address().port));
	});
const ports = { stockTcp: await listen(stock), framedTcp: await listen(framed), framedTls: tls ? await listen(tls) : undefined };
process.stdout.write(`${JSON.stringify(ports)}\n`);

function stop() {
	for (const server of servers) server.close();
	for (const socket of sockets) socket.destroy();
	process.exit(0);
}
process.stdin.on('end', stop);
process.stdin.on('close', stop);
process.stdin.resume();
process.on('SIGTERM', stop);
