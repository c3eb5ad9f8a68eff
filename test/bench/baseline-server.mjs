// The same-run baselines of `bench:http` (plain JavaScript, no TypeScript loader): the least a
// server on this host can cost, to measure liubai against.
//
//   node test/bench/baseline-server.mjs --kind http|express --work-ms w
//
// It answers every POST with a fixed 5-item rank answer after reading and JSON-parsing the body,
// doing nothing else but `w` milliseconds of fixed arithmetic per request (calibrated at start):
//   - kind http: node:http only — the floor of HTTP and JSON on loopback;
//   - kind express: express 5 with express.json(), one route — the floor of the framework;
//   - work w > 0: with kind http an ideal server with w ms of CPU per request and no I/O,
//     garbage or threads — what this host's scheduling alone does to the latency of such work;
//     with kind express the same work behind the framework.
// It prints its port, then the calibration, on stdout, and stops on SIGTERM.
import { createServer } from 'node:http';
import express from 'express';

const arg = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : fallback;
};
const kind = arg('--kind', 'http');
const workMs = Number(arg('--work-ms', '0'));
if (kind !== 'http' && kind !== 'express') throw new Error(`--kind must be http or express, got ${kind}`);
if (!(workMs >= 0)) throw new Error(`--work-ms must be ≥ 0, got ${workMs}`);

// One unit of work: a strided dot product over 2,000 doubles (a few microseconds).
const N = 2000;
const a = Float64Array.from({ length: N }, (_, i) => Math.sin(i));
let sink = 0;
function unit() {
  let s = 0;
  for (let i = 0; i < N; i++) s += a[i] * a[(i * 7) % N];
  return s;
}
/** Units per millisecond: the median of 15 windows of 20 ms, after a warm-up. */
function calibrate() {
  for (let i = 0; i < 5000; i++) sink += unit();
  const rates = [];
  for (let w = 0; w < 15; w++) {
    const t0 = performance.now();
    let n = 0;
    while (performance.now() - t0 < 20) {
      sink += unit();
      n++;
    }
    rates.push(n / (performance.now() - t0));
  }
  rates.sort((x, y) => x - y);
  return rates[7];
}
const unitsPerMs = workMs > 0 ? calibrate() : 0;
const units = Math.round(workMs * unitsPerMs);
const work = () => {
  for (let u = 0; u < units; u++) sink += unit();
};

const answer = JSON.stringify({
  eventId: 'baseline',
  modelVersion: 1,
  slate: Array.from({ length: 5 }, (_, i) => ({ id: `item${i}`, position: i, propensity: 0.2, explored: false })),
});

let server;
if (kind === 'http') {
  server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      let body;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        res.statusCode = 400;
        res.end();
        return;
      }
      if (!Array.isArray(body?.candidates)) {
        res.statusCode = 400;
        res.end();
        return;
      }
      work();
      res.setHeader('content-type', 'application/json');
      res.end(answer);
    });
  });
} else {
  const app = express();
  app.use(express.json({ limit: '1mb' }));
  app.post('/v1/models/:modelId/rank', (req, res) => {
    if (!Array.isArray(req.body?.candidates)) {
      res.status(400).end();
      return;
    }
    work();
    res.type('application/json').send(answer);
  });
  server = createServer(app);
}
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${server.address().port}\n`);
  process.stdout.write(`${JSON.stringify({ kind, workMs, units, unitsPerMs, sink: sink !== 0 })}\n`);
});
process.on('SIGTERM', () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
});
