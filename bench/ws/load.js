// WebSocket fan-out load tool (Node, `ws` client). Opens N connections split over P child
// processes, each subscribed to its own user channel and one shared channel, then measures:
//   - the server's RSS per connection (from /proc/<pid>/status, before and after connecting);
//   - fan-out: the time from a shared-channel message's publication (its ts) until the last of
//     the N connections has it;
//   - commit-to-push latency while events flow at RATE/s to random users: publication (ts,
//     which the gateway stamps right after the event's batch is on disk) to arrival, p50/p99.
// Modes: "reactor" (GET /ws with x-api-key, subscribe commands, signed POST /events/batch) and
// "node" (node_server.js: POST /broadcast and POST /publish).
// The connections are held either by bench_ws_load (C, libuv + wslay; --client-bin, one process
// with --threads threads) or by Node child processes with the `ws` package (--procs); this
// process only orchestrates and sends the events.
//   node load.js --mode reactor --port 18091 --pid <server pid> --conns 19000 --key K --app A
//                --secret S [--rate 10000] [--seconds 10]
//                [--client-bin build/bench_ws_load [--threads 2] | --procs 2]
'use strict';
const { fork, spawn } = require('child_process');
const EventEmitter = require('events');
const readline = require('readline');
const crypto = require('crypto');
const fs = require('fs');
const http = require('http');
const WebSocket = require('ws');

const now = () => performance.timeOrigin + performance.now();
const args = {};
for (let i = 2; i < process.argv.length; i += 2) args[process.argv[i].slice(2)] = process.argv[i + 1];
const mode = args.mode || 'reactor';
const port = Number(args.port);

if (process.env.LOAD_CHILD) child(); else parent();

// ---- child: holds connections, reports arrival times --------------------------------------
function child() {
  const first = Number(process.env.FIRST), count = Number(process.env.COUNT);
  const socks = [];
  let lat = [], fanSeen = 0, fanLast = 0, fanTs = 0, fanWant = null;
  let open = 0, inflight = 0, next = first;
  function connect() {
    while (inflight < 200 && next < first + count) {
      const i = next++;
      inflight++;
      const url = mode === 'reactor' ? `ws://127.0.0.1:${port}/ws` : `ws://127.0.0.1:${port}/?user=u${i}`;
      const ws = new WebSocket(url, Object.assign({ skipUTF8Validation: true, perMessageDeflate: false },
        mode === 'reactor' ? { headers: { 'x-api-key': args.key } } : {}));
      let replies = 0;
      ws.on('open', () => {
        if (mode === 'reactor') {
          ws.send(JSON.stringify({ id: 1, op: 'subscribe', channel: 'user:u' + i }));
          ws.send(JSON.stringify({ id: 2, op: 'subscribe', channel: 'leaderboard:xp' }));
        }
      });
      ws.on('message', (data) => {
        const t = now();
        const m = JSON.parse(data);
        if (m.id !== undefined) {
          if (++replies === (mode === 'reactor' ? 2 : 1)) {
            open++; inflight--; connect();
            if (open === count) process.send({ ready: open });
          }
          return;
        }
        if (m.channel === 'leaderboard:xp' || m.channel === 'shared') {
          if (fanWant !== null) { fanSeen++; fanLast = Math.max(fanLast, t); fanTs = m.ts;
            if (fanSeen === fanWant) { process.send({ fan: { last: fanLast, ts: fanTs, n: fanSeen } }); fanWant = null; } }
        } else if (m.ts) {
          lat.push(t - m.ts);
        }
      });
      ws.on('error', (e) => { process.send({ error: String(e) }); });
      socks.push(ws);
    }
  }
  process.on('message', (cmd) => {
    if (cmd === 'fan') { fanWant = count; fanSeen = 0; fanLast = 0; }
    if (cmd === 'lat') { lat = []; }
    if (cmd === 'report') { process.send({ lat }); }
    if (cmd === 'exit') { for (const s of socks) s.terminate(); setTimeout(() => process.exit(0), 200); }
  });
  connect();
}

// ---- parent: orchestrates, loads events, computes results ---------------------------------
// CPU time of every thread of a process so far, in ms (schedstat: nanoseconds).
function cpuMs(pid) {
  let ns = 0;
  for (const t of fs.readdirSync(`/proc/${pid}/task`)) {
    try { ns += Number(fs.readFileSync(`/proc/${pid}/task/${t}/schedstat`, 'utf8').split(' ')[0]); } catch (e) { /* gone */ }
  }
  return ns / 1e6;
}

function rss(pid) {
  const m = /VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m[1]);
}
const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
function post(path, body, headers) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method: 'POST', agent,
      headers: Object.assign({ 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) }, headers) },
      (res) => { res.resume(); res.on('end', () => resolve(res.statusCode)); });
    req.on('error', reject);
    req.end(body);
  });
}
function signed(body) {
  const ts = String(Math.floor(Date.now() / 1000)), nonce = crypto.randomBytes(12).toString('hex');
  const sig = crypto.createHmac('sha256', args.secret).update(`${ts}.${nonce}.${body}`).digest('hex');
  return { 'x-api-key': args.key, 'x-signature-timestamp': ts, 'x-signature-nonce': nonce, 'x-signature': sig };
}
let seq = 0;
// type "score" moves the shared board (leaderboard:xp); "tick" awards another track, whose
// board nobody watches, so the latency phase measures user-channel pushes alone, as the
// baseline does.
const statuses = {};
function sendEvents(users, points, type) {
  if (mode === 'node') return post('/publish', JSON.stringify({ users }), {});
  const events = users.map((u) => ({ appId: args.app, userId: u, eventType: type,
    idempotencyKey: `bench-${process.pid}-${++seq}`, metadata: { points } }));
  const body = JSON.stringify({ events });
  return post('/events/batch', body, signed(body));
}
const pct = (v, p) => v.length ? v[Math.min(v.length - 1, Math.floor(p / 100 * v.length))] : NaN;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// The C client as a child: one JSON object a line each way, seen as the Node children are.
function cChild(first, count) {
  const cargs = ['--port', String(port), '--first', String(first),
    '--count', String(count), '--mode', mode, '--key', args.key || '',
    '--threads', String(args.threads || 2)];
  const p = spawn(args['client-bin'], cargs, { stdio: ['pipe', 'pipe', 'inherit'] });
  const k = new EventEmitter();
  readline.createInterface({ input: p.stdout }).on('line', (l) => k.emit('message', JSON.parse(l)));
  k.send = (cmd) => { if (p.exitCode === null) p.stdin.write(cmd + '\n'); };
  p.on('exit', (code) => { if (code) console.error(`client exited with ${code}`); });
  return k;
}

async function parent() {
  const c = Boolean(args['client-bin']);
  const n = Number(args.conns || 1000), procs = c ? 1 : Number(args.procs || 2);
  const rate = Number(args.rate || 10000), seconds = Number(args.seconds || 10);
  const pid = Number(args.pid);
  const kids = [];
  const before = rss(pid);
  const t0 = now();
  let ready = 0;
  const readyP = new Promise((resolve) => {
    for (let p = 0; p < procs; p++) {
      const count = Math.floor(n / procs) + (p < n % procs ? 1 : 0);
      const first = p * Math.floor(n / procs) + Math.min(p, n % procs);
      const k = c ? cChild(first, count)
        : fork(__filename, process.argv.slice(2), { env: Object.assign({}, process.env,
          { LOAD_CHILD: '1', FIRST: String(first), COUNT: String(count) }) });
      k.on('message', (m) => { if (m.ready) { ready += m.ready; if (ready === n) resolve(); }
                               if (m.error) console.error('client error:', m.error); });
      kids.push(k);
    }
  });
  await readyP;
  const connectS = (now() - t0) / 1000;
  await sleep(1000);
  const after = rss(pid);
  console.log(`${mode}: ${n} connections open and subscribed in ${connectS.toFixed(1)} s ` +
              `(client: ${c ? `bench_ws_load, ${args.threads || 2} threads` : `Node ws, ${procs} processes`})`);
  console.log(`${mode}: server RSS ${(before / 1024).toFixed(1)} MiB -> ${(after / 1024).toFixed(1)} MiB: ` +
              `${((after - before) * 1024 / n).toFixed(0)} bytes per connection`);

  // The server's CPU while the connections are idle (pings, token and timer sweeps).
  const idle0 = cpuMs(pid);
  await sleep(3000);
  console.log(`${mode}: server CPU while ${n} connections are idle: ` +
              `${((cpuMs(pid) - idle0) / 3).toFixed(1)} ms a second`);

  // Fan-out on the shared channel, `fanouts` times (5 by default).
  const fanouts = Number(args.fanouts || 5);
  const fans = [], serverCpu = [], clientCpu = [];
  for (let r = 0; r < fanouts; r++) {
    const got = [];
    const done = new Promise((resolve) => {
      for (const k of kids) {
        const h = (m) => { if (m.fan) { got.push(m.fan); k.off('message', h); if (got.length === kids.length) resolve(); } };
        k.on('message', h);
        k.send('fan');
      }
    });
    await sleep(100);
    const cpu0 = cpuMs(pid);
    if (mode === 'node') await post('/broadcast', '{}', {});
    else await sendEvents([`lb-${r}`], 1000000 + r, 'score');   // a new leader
    await Promise.race([done, sleep(10000)]);
    if (got.length === kids.length) {
      const last = Math.max(...got.map((g) => g.last));
      fans.push(last - got[0].ts);
      serverCpu.push(cpuMs(pid) - cpu0);
      if (got.every((g) => g.cpu_ms !== undefined)) clientCpu.push(got.reduce((a, g) => a + g.cpu_ms, 0));
    }
    await sleep(400);
  }
  fans.sort((a, b) => a - b);
  const median = fans.length ? fans[(fans.length - 1) >> 1] : NaN;
  console.log(`${mode}: fan-out to all ${n} (publish -> last arrival), ${fans.length} of ${fanouts} runs: ` +
              fans.map((f) => f.toFixed(1)).join(', ') + ` ms; median ${median.toFixed(1)} ms`);
  const med = (v) => v.length ? v.slice().sort((a, b) => a - b)[(v.length - 1) >> 1] : NaN;
  console.log(`${mode}: CPU per fan-out (median): server ${med(serverCpu).toFixed(1)} ms` +
              (clientCpu.length ? `, client ${med(clientCpu).toFixed(1)} ms` : ''));

  // Latency while events flow at `rate`/s in batches of 100 every 100/rate s.
  for (const k of kids) k.send('lat');
  const per = 100, interval = 1000 * per / rate;
  const tEnd = now() + seconds * 1000;
  let sent = 0, tNext = now();
  while (now() < tEnd) {
    const users = [];
    for (let i = 0; i < per; i++) users.push('u' + Math.floor(Math.random() * n));
    sendEvents(users, 1, 'tick').then((st) => { statuses[st] = (statuses[st] || 0) + 1; },
                                      (e) => console.error('post failed', e));
    sent += per;
    tNext += interval;
    const wait = tNext - now();
    if (wait > 0) await sleep(wait);
  }
  await sleep(2000);
  const lats = [];
  await new Promise((resolve) => {
    let left = kids.length;
    for (const k of kids) {
      const h = (m) => { if (m.lat) { lats.push(...m.lat); k.off('message', h); if (--left === 0) resolve(); } };
      k.on('message', h);
      k.send('report');
    }
  });
  lats.sort((a, b) => a - b);
  console.log(`${mode}: ${sent} events in ${seconds} s (${(sent / seconds).toFixed(0)}/s offered), ` +
              `${lats.length} user-channel pushes received; answers ${JSON.stringify(statuses)}`);
  console.log(`${mode}: publish -> arrival latency p50 ${pct(lats, 50).toFixed(2)} ms, ` +
              `p99 ${pct(lats, 99).toFixed(2)} ms, max ${lats[lats.length - 1].toFixed(2)} ms`);
  console.log(`${mode}: server RSS at the end ${(rss(pid) / 1024).toFixed(1)} MiB`);
  for (const k of kids) k.send('exit');
  setTimeout(() => process.exit(0), 500);
}
