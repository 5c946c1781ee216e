// The baseline: a plain Node `ws` server doing the same fan-out as the gateway, with no
// history, recovery or authorization. A client connects to /?user=<id>; the server keeps one
// map user -> sockets and one set of every socket (the "shared channel").
//   POST /broadcast            one message to every socket
//   POST /publish  {"users": [...]}  one message to each named user's sockets
// Every message carries ts (publish time, ms since the epoch, fractional) like the gateway's
// pushes, so the load tool measures both the same way.
'use strict';
const http = require('http');
const { WebSocketServer } = require('ws');

const port = Number(process.argv[2] || 18090);
const byUser = new Map();
const all = new Set();
const now = () => performance.timeOrigin + performance.now();

const server = http.createServer((req, res) => {
  let body = '';
  req.on('data', (d) => { body += d; });
  req.on('end', () => {
    if (req.url === '/broadcast') {
      const msg = JSON.stringify({ channel: 'shared', type: 'broadcast', ts: now(),
                                   data: { top: [] } });
      for (const ws of all) ws.send(msg);
    } else if (req.url === '/publish') {
      const users = JSON.parse(body).users;
      for (const u of users) {
        const socks = byUser.get(u);
        if (!socks) continue;
        const msg = JSON.stringify({ channel: 'user:' + u, type: 'xp.awarded', ts: now(),
                                     data: { amount: 10 } });
        for (const ws of socks) ws.send(msg);
      }
    }
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end('{"ok":true}');
  });
});
const wss = new WebSocketServer({ server });
wss.on('connection', (ws, req) => {
  const user = new URL(req.url, 'http://x').searchParams.get('user') || '';
  all.add(ws);
  if (!byUser.has(user)) byUser.set(user, new Set());
  byUser.get(user).add(ws);
  ws.on('close', () => { all.delete(ws); byUser.get(user).delete(ws); });
  ws.on('error', () => {});
  ws.send(JSON.stringify({ id: 1, ok: true }));
});
server.listen(port, '127.0.0.1');
