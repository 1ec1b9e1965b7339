// A TCP server that accepts and holds connections (server namespace); closes a connection when its client
// does. argv: port.
import net from 'node:net';

const server = net.createServer((s) => {
  s.on('error', () => {});
  s.on('end', () => s.end());
  s.resume();
});
server.maxConnections = 100000;
server.listen({ port: Number(process.argv[2]), host: '::', backlog: 4096 }, () => console.log('LISTENING'));
