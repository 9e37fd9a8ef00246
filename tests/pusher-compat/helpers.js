'use strict';
// Shared harness for the pusher-compat suite: starts `duplex serve` on a free
// loopback port with a generated TOML config, a local auth endpoint (signing
// with the real `pusher` server SDK), an optional webhook receiver, and real
// `pusher-js` clients. Everything binds/targets 127.0.0.1 only.
//
// PUSHER_COMPAT_CLUSTER=1: each env is a 2-node cluster instead: a real
// `redis-server` on a free port and two `duplex serve` nodes (same apps,
// `adapter = "redis"`). pusher-js clients (subscribers, client events, auth)
// connect to node B; the `pusher` server SDK (publishing, channel queries,
// terminate_connections, raw HTTP API requests) talks to node A. Both nodes
// send their webhooks to the same receiver. PUSHER_COMPAT_CLIENT_NODES=alternate
// (run.sh's third pass) spreads the pusher-js clients over both nodes: B, A, B, …

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const net = require('node:net');
const http = require('node:http');
const assert = require('node:assert/strict');

const PusherJS = require('pusher-js');
const PusherSDK = require('pusher');

const HOST = '127.0.0.1';
const REPO_ROOT = path.resolve(__dirname, '..', '..');
const DUPLEX_BIN = process.env.DUPLEX_BIN || path.join(REPO_ROOT, 'target', 'debug', 'duplex');
const LOG_DIR = path.join(__dirname, 'logs');
const DEBUG = !!process.env.PUSHER_COMPAT_DEBUG;
const CLUSTER = process.env.PUSHER_COMPAT_CLUSTER === '1';
const REDIS_SERVER = process.env.REDIS_SERVER || 'redis-server';
const ALTERNATE_CLIENT_NODES = CLUSTER && process.env.PUSHER_COMPAT_CLIENT_NODES === 'alternate';
const nodeOfClient = new WeakMap();

// Every process this file spawns (duplex serve, redis-server), killed by PID
// if the test process exits before an env was closed, and their temp dirs.
const children = new Set();
const tempDirs = new Set();
function killChildren(signal) {
  for (const child of children) {
    try {
      process.kill(child.pid, signal);
    } catch {
      /* already gone */
    }
  }
  children.clear();
  for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true });
  tempDirs.clear();
}
function tempDir(prefix) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  tempDirs.add(dir);
  return dir;
}
function removeTempDir(dir) {
  fs.rmSync(dir, { recursive: true, force: true });
  tempDirs.delete(dir);
}
function track(child) {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}
process.on('exit', () => killChildren('SIGKILL'));
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.once(signal, () => {
    killChildren('SIGKILL');
    process.kill(process.pid, signal); // the default action, now that the handler is gone
  });
}

if (DEBUG) {
  PusherJS.log = (msg) => process.stderr.write(`[pusher-js] ${msg}\n`);
}

// Tap pusher-js's WebSocket factory (node build: faye-websocket) to keep the raw
// text of every received frame, so tests can check the exact wire format.
const allSockets = new Set();
const origCreateWebSocket = PusherJS.Runtime.createWebSocket;
PusherJS.Runtime.createWebSocket = function (url) {
  const socket = origCreateWebSocket.call(this, url);
  socket.__rawFrames = [];
  socket.addEventListener('message', (ev) => socket.__rawFrames.push(ev.data));
  allSockets.add(socket);
  return socket;
};

/** Raw received frames (strings) of a client's current WebSocket. */
function rawFrames(client) {
  const conn = client.connection.connection;
  const socket = conn && conn.transport && conn.transport.socket;
  return socket ? socket.__rawFrames : null;
}

/**
 * pusher-js calls close() on its faye-websocket again after the server closed it
 * (e.g. 4009/4001 -> 'refused' -> disconnect()); faye then arms a 30 s close timer
 * that nothing clears, keeping the test process alive. Clear it on closed sockets.
 */
function clearStaleCloseTimers() {
  for (const socket of allSockets) {
    if (socket.readyState === 3) {
      if (socket._closeTimer) clearTimeout(socket._closeTimer);
      allSockets.delete(socket);
    }
  }
}

const DEFAULT_APP = Object.freeze({
  id: '1',
  key: 'app-key',
  secret: 'app-secret',
  client_events: true,
});

// ---------------------------------------------------------------- utilities

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Rejects with `label` if `promise` does not settle within `ms`. */
function withTimeout(promise, ms, label) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${label}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Polls `fn` until it returns a truthy value (returned) or time runs out. */
async function until(fn, ms, label, every = 25) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms: ${label}`);
    await sleep(every);
  }
}

/** A free TCP port on 127.0.0.1 (bind port 0, close, reuse the number). */
function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, HOST, () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function uniq(prefix) {
  uniq.n = (uniq.n || 0) + 1;
  return `${prefix}${process.pid}-${uniq.n}`;
}

// ---------------------------------------------------------------- TOML

function tomlValue(v) {
  if (typeof v === 'string') return JSON.stringify(v); // TOML basic string == JSON string for our ASCII values
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) throw new Error(`non-integer TOML value ${v}`);
    return String(v);
  }
  if (Array.isArray(v)) return `[${v.map(tomlValue).join(', ')}]`;
  throw new Error(`unsupported TOML value ${JSON.stringify(v)}`);
}

/**
 * Renders the `duplex serve` config described in the server contract.
 * `redis` (an object of `[redis]` settings) makes it a cluster node.
 */
function renderConfig({ activityTimeout, apps, redis }) {
  const lines = [];
  if (activityTimeout !== undefined) lines.push(`activity_timeout = ${tomlValue(activityTimeout)}`);
  if (redis) {
    lines.push('adapter = "redis"', '', '[redis]');
    for (const [k, v] of Object.entries(redis)) lines.push(`${k} = ${tomlValue(v)}`);
  }
  if (lines.length) lines.push('');
  for (const app of apps) {
    lines.push('[[apps]]');
    for (const k of ['id', 'key', 'secret', 'client_events']) {
      if (app[k] !== undefined) lines.push(`${k} = ${tomlValue(app[k])}`);
    }
    if (app.limits) {
      lines.push('[apps.limits]');
      for (const [k, v] of Object.entries(app.limits)) lines.push(`${k} = ${tomlValue(v)}`);
    }
    for (const wh of app.webhooks || []) {
      lines.push('[[apps.webhooks]]');
      lines.push(`url = ${tomlValue(wh.url)}`);
      lines.push(`event_types = ${tomlValue(wh.event_types)}`);
    }
    lines.push('');
  }
  return lines.join('\n');
}

// ---------------------------------------------------------------- duplex serve

function binaryExists() {
  try {
    fs.accessSync(DUPLEX_BIN, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Starts `duplex serve` on a free port. Resolves once stderr/stdout shows
 * `listening on http://127.0.0.1:PORT`. Retries on a port race.
 */
async function startServer({ apps, activityTimeout = 30, name = 'server', redis }) {
  if (!binaryExists()) throw new Error(`${DUPLEX_BIN} not found: build it with \`cargo build -p duplex-cli\``);
  let lastErr;
  for (let attempt = 1; attempt <= 3; attempt++) {
    const port = await freePort();
    try {
      return await spawnServer(port, { apps, activityTimeout, name, redis });
    } catch (e) {
      lastErr = e;
      if (!/in use|AddrInUse|EADDRINUSE/i.test(e.message)) throw e;
    }
  }
  throw lastErr;
}

function spawnServer(port, { apps, activityTimeout, name, redis }) {
  const dir = tempDir('duplex-pusher-compat-');
  const configFile = path.join(dir, 'config.toml');
  const config = renderConfig({ activityTimeout, apps, redis });
  fs.writeFileSync(configFile, config);
  const args = ['serve', '--listen', `${HOST}:${port}`, '--config', configFile];
  const child = track(spawn(DUPLEX_BIN, args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: REPO_ROOT }));
  let log = '';
  const onData = (chunk) => {
    log += chunk.toString('utf8');
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);

  const server = {
    name,
    port,
    host: HOST,
    config,
    configFile,
    child,
    exited: null,
    logs: () => log,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const gone = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        const timer = setTimeout(() => {
          if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
        }, 3000);
        await gone;
        clearTimeout(timer);
      }
      try {
        fs.mkdirSync(LOG_DIR, { recursive: true });
        fs.writeFileSync(path.join(LOG_DIR, `${name}.log`), `# duplex ${args.join(' ')}\n# config:\n${config}\n# log:\n${log}${server.footer || ''}`);
      } catch {
        /* logs are best effort */
      }
      removeTempDir(dir);
    },
  };
  child.on('exit', (code, signal) => {
    server.exited = { code, signal };
  });

  const ready = `listening on http://${HOST}:${port}`;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      child.kill('SIGKILL');
      removeTempDir(dir);
      reject(new Error(`duplex serve did not print "${ready}" within 20 s. Output:\n${log}`));
    }, 20000);
    const check = () => {
      if (log.includes(ready)) {
        cleanup();
        resolve(server);
      }
    };
    const onExit = (code, signal) => {
      cleanup();
      removeTempDir(dir);
      reject(new Error(`duplex serve exited early (code ${code}, signal ${signal}). Output:\n${log}`));
    };
    const cleanup = () => {
      clearTimeout(timer);
      child.stdout.off('data', check);
      child.stderr.off('data', check);
      child.off('exit', onExit);
    };
    child.stdout.on('data', check);
    child.stderr.on('data', check);
    child.once('exit', onExit);
    child.once('error', (e) => {
      cleanup();
      reject(e);
    });
  });
}

// ---------------------------------------------------------------- redis-server (cluster mode)

/** Encodes a command in RESP (latin1: one char per byte). */
function respCommand(args) {
  let out = `*${args.length}\r\n`;
  for (const a of args.map(String)) out += `$${Buffer.byteLength(a, 'latin1')}\r\n${a}\r\n`;
  return out;
}

/** Parses one RESP value at `i` of `s`; undefined while incomplete. */
function parseResp(s, i = 0) {
  const eol = s.indexOf('\r\n', i);
  if (eol < 0) return undefined;
  const type = s[i];
  const line = s.slice(i + 1, eol);
  const next = eol + 2;
  switch (type) {
    case '+':
      return { value: line, end: next };
    case '-':
      return { value: new Error(`redis: ${line}`), end: next };
    case ':':
      return { value: Number(line), end: next };
    case '$': {
      const n = Number(line);
      if (n < 0) return { value: null, end: next };
      if (s.length < next + n + 2) return undefined;
      return { value: s.slice(next, next + n), end: next + n + 2 };
    }
    case '*': {
      const n = Number(line);
      if (n < 0) return { value: null, end: next };
      const items = [];
      let at = next;
      for (let k = 0; k < n; k++) {
        const item = parseResp(s, at);
        if (!item) return undefined;
        items.push(item.value);
        at = item.end;
      }
      return { value: items, end: at };
    }
    default:
      throw new Error(`unexpected RESP reply ${JSON.stringify(s.slice(i, i + 40))}`);
  }
}

/** Runs one command on the Redis at 127.0.0.1:`port` (a new connection each time). */
function redisCommand(port, ...args) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, HOST);
    let buf = '';
    sock.setEncoding('latin1');
    sock.setTimeout(2000, () => sock.destroy(new Error(`redis ${args[0]}: timed out`)));
    sock.on('connect', () => sock.write(respCommand(args), 'latin1'));
    sock.on('data', (chunk) => {
      buf += chunk;
      let reply;
      try {
        reply = parseResp(buf);
      } catch (e) {
        sock.destroy(e);
        return;
      }
      if (!reply) return;
      sock.end();
      if (reply.value instanceof Error) reject(reply.value);
      else resolve(reply.value);
    });
    sock.on('error', reject);
  });
}

/**
 * Starts `redis-server` on a free 127.0.0.1 port: no persistence, its own
 * temp --dir. Resolves once it answers PING. `stop()` ends it by PID.
 */
async function startRedis({ name }) {
  let lastErr;
  for (let attempt = 1; attempt <= 3; attempt++) {
    const port = await freePort();
    try {
      return await spawnRedis(port, name);
    } catch (e) {
      lastErr = e;
      if (!/in use|EADDRINUSE/i.test(e.message)) throw e;
    }
  }
  throw lastErr;
}

async function spawnRedis(port, name) {
  const dir = tempDir('duplex-pusher-compat-redis-');
  const args = ['--port', String(port), '--bind', HOST, '--save', '', '--appendonly', 'no', '--dir', dir];
  let child;
  let log = '';
  const started = new Promise((resolve, reject) => {
    child = track(spawn(REDIS_SERVER, args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: dir }));
    child.once('spawn', resolve);
    child.once('error', (e) =>
      reject(
        new Error(
          e.code === 'ENOENT'
            ? `${REDIS_SERVER} not found: the cluster mode (PUSHER_COMPAT_CLUSTER=1) needs a real Redis (apt-get install redis-server)`
            : `cannot start ${REDIS_SERVER}: ${e.message}`,
        ),
      ),
    );
  });
  const cleanupDir = () => removeTempDir(dir);
  try {
    await started;
  } catch (e) {
    cleanupDir();
    throw e;
  }
  const onData = (chunk) => {
    log += chunk.toString('utf8');
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const redis = {
    port,
    url: `redis://${HOST}:${port}`,
    child,
    exited: null,
    logs: () => log,
    command: (...cmd) => redisCommand(port, ...cmd),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const gone = new Promise((r) => child.once('exit', r));
        const kill = (signal) => {
          try {
            process.kill(child.pid, signal);
          } catch {
            /* already gone */
          }
        };
        kill('SIGTERM');
        const timer = setTimeout(() => {
          if (child.exitCode === null && child.signalCode === null) kill('SIGKILL');
        }, 3000);
        await gone;
        clearTimeout(timer);
      }
      try {
        fs.mkdirSync(LOG_DIR, { recursive: true });
        fs.writeFileSync(path.join(LOG_DIR, `${name}.log`), `# ${REDIS_SERVER} ${args.map((a) => (a === '' ? '""' : a)).join(' ')}\n# log:\n${log}`);
      } catch {
        /* logs are best effort */
      }
      cleanupDir();
    },
  };
  child.on('exit', (code, signal) => {
    redis.exited = { code, signal };
  });
  const deadline = Date.now() + 10000;
  for (;;) {
    if (redis.exited) {
      cleanupDir();
      throw new Error(`redis-server exited early (${JSON.stringify(redis.exited)}). Output:\n${log}`);
    }
    const pong = await redisCommand(port, 'PING').catch(() => null);
    if (pong === 'PONG') return redis;
    if (Date.now() > deadline) {
      await redis.stop();
      throw new Error(`redis-server did not answer PING within 10 s. Output:\n${log}`);
    }
    await sleep(20);
  }
}

/**
 * Waits until `count` nodes of the cluster with key prefix `prefix` are
 * registered (first heartbeat) and listening on the bus, so that nothing a
 * test publishes right away is lost.
 */
async function waitClusterReady(redis, prefix, count, ms = 10000) {
  await until(
    async () => {
      const [, listeners] = await redis.command('PUBSUB', 'NUMSUB', `${prefix}:bus`);
      const nodes = await redis.command('ZCARD', `${prefix}:nodes`);
      return Number(listeners) === count && nodes === count;
    },
    ms,
    `${count} cluster nodes registered and listening on ${prefix}:bus`,
  );
}

// ---------------------------------------------------------------- small HTTP helpers

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function listen(server) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, HOST, () => resolve(server.address().port));
  });
}

function closeHttp(server) {
  return new Promise((resolve) => {
    server.closeAllConnections?.();
    server.close(() => resolve());
  });
}

// ---------------------------------------------------------------- auth endpoint

/**
 * Local auth endpoint. pusher-js POSTs `application/x-www-form-urlencoded`
 * with `socket_id` and (channel auth) `channel_name`, plus the client's
 * configured `params`. We use params `user_id` and `user_info` (JSON) for
 * presence channel_data and for user sign-in.
 *
 * Channels named `private-badsig-*` / `presence-badsig-*` get a token signed
 * with a WRONG secret (same key), to exercise server-side signature checks.
 */
async function startAuthServer(getSdk, getBadSdk) {
  const requests = [];
  const server = http.createServer(async (req, res) => {
    try {
      const body = await readBody(req);
      const form = new URLSearchParams(body);
      const params = Object.fromEntries(form.entries());
      const appKey = req.headers['x-app-key'];
      const sdk = getSdk(appKey);
      requests.push({ url: req.url, params, contentType: req.headers['content-type'] });
      let result;
      if (req.method === 'POST' && req.url === '/pusher/auth') {
        const channel = params.channel_name;
        const signer = /^(private|presence)-(encrypted-)?badsig-/.test(channel) ? getBadSdk(appKey) : sdk;
        if (channel.startsWith('presence-')) {
          const presenceData = {
            user_id: params.user_id_type === 'number' ? Number(params.user_id) : params.user_id,
            user_info: params.user_info ? JSON.parse(params.user_info) : {},
          };
          result = signer.authorizeChannel(params.socket_id, channel, presenceData);
        } else {
          result = signer.authorizeChannel(params.socket_id, channel);
        }
      } else if (req.method === 'POST' && req.url === '/pusher/user-auth') {
        const userData = { id: params.user_id };
        if (params.user_info) userData.user_info = JSON.parse(params.user_info);
        result = sdk.authenticateUser(params.socket_id, userData);
      } else {
        res.writeHead(404).end('not found');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(result));
    } catch (e) {
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(String(e && e.stack ? e.stack : e));
    }
  });
  const port = await listen(server);
  return { port, requests, close: () => closeHttp(server) };
}

// ---------------------------------------------------------------- webhook receiver

async function startWebhookServer() {
  const received = []; // { headers, rawBody, body, time }
  const waiters = new Set();
  const server = http.createServer(async (req, res) => {
    const rawBody = await readBody(req);
    let body;
    try {
      body = JSON.parse(rawBody);
    } catch {
      body = undefined;
    }
    const entry = { method: req.method, url: req.url, headers: req.headers, rawBody, body, time: Date.now() };
    received.push(entry);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{}');
    for (const w of waiters) w();
  });
  const port = await listen(server);

  /** All (event, request) pairs received so far, in order. */
  const events = () => {
    const out = [];
    for (const r of received) {
      for (const ev of (r.body && Array.isArray(r.body.events) ? r.body.events : [])) out.push({ event: ev, request: r });
    }
    return out;
  };

  /** Waits for a webhook event matching `pred`; resolves with {event, request}. */
  const waitFor = (pred, ms, label) =>
    withTimeout(
      new Promise((resolve) => {
        const check = () => {
          const hit = events().find(({ event }) => pred(event));
          if (hit) {
            waiters.delete(check);
            resolve(hit);
          }
        };
        waiters.add(check);
        check();
      }),
      ms,
      `webhook ${label}`,
    );

  return {
    port,
    url: `http://${HOST}:${port}/webhooks`,
    received,
    events,
    waitFor,
    close: () => {
      waiters.clear();
      return closeHttp(server);
    },
  };
}

// ---------------------------------------------------------------- pusher-js helpers

/** Resolves with the args of the next `event` on a pusher-js Dispatcher. */
function nextEvent(emitter, event, ms = 5000, label = event, filter = () => true) {
  let cb;
  return withTimeout(
    new Promise((resolve) => {
      cb = (...args) => {
        if (filter(...args)) resolve(args);
      };
      emitter.bind(event, cb);
    }),
    ms,
    label,
  ).finally(() => emitter.unbind(event, cb));
}

/** Records every emission of `event` (or all, with bind_global when event is null). */
function record(emitter, event) {
  const events = [];
  const cb = event === null ? (name, data, meta) => events.push({ name, data, meta }) : (data, meta) => events.push({ data, meta });
  if (event === null) emitter.bind_global(cb);
  else emitter.bind(event, cb);
  return {
    events,
    waitForCount: (n, ms = 5000, label = `${n} x ${event}`) => until(() => events.length >= n, ms, label).then(() => events),
    stop: () => (event === null ? emitter.unbind_global(cb) : emitter.unbind(event, cb)),
  };
}

/** Records raw decoded protocol messages seen by a client's connection. */
function recordMessages(client) {
  const messages = [];
  const cb = (m) => messages.push(m);
  client.connection.bind('message', cb);
  return { messages, stop: () => client.connection.unbind('message', cb) };
}

/**
 * Subscribes and waits for `pusher:subscription_succeeded`; rejects on
 * `pusher:subscription_error` or a connection-level pusher:error.
 */
async function subscribe(client, name, ms = 5000) {
  const channel = client.subscribe(name);
  if (channel.subscribed) return { channel, data: undefined };
  let onOk, onErr, onConnErr;
  try {
    const data = await withTimeout(
      new Promise((resolve, reject) => {
        onOk = (d) => resolve(d);
        onErr = (e) => reject(new Error(`pusher:subscription_error on ${name}: ${JSON.stringify(e)}`));
        onConnErr = (e) => reject(new Error(`connection error while subscribing to ${name}: ${JSON.stringify(e)}`));
        channel.bind('pusher:subscription_succeeded', onOk);
        channel.bind('pusher:subscription_error', onErr);
        client.connection.bind('error', onConnErr);
      }),
      ms,
      `subscription_succeeded on ${name}`,
    );
    return { channel, data };
  } finally {
    channel.unbind('pusher:subscription_succeeded', onOk);
    channel.unbind('pusher:subscription_error', onErr);
    client.connection.unbind('error', onConnErr);
  }
}

function closeCodeOf(err) {
  if (!err) return undefined;
  if (err.data && typeof err.data.code === 'number') return err.data.code;
  if (err.error && err.error.data && typeof err.error.data.code === 'number') return err.error.data.code;
  return undefined;
}

// ---------------------------------------------------------------- environment

/**
 * One duplex server + auth endpoint (+ optional webhook receiver) per test
 * file. `apps` entries follow the server config; `webhooks: [event types]`
 * on an app points its webhooks at the local receiver. An app may carry
 * `encryptionMasterKeyBase64`, passed to its SDK instance.
 *
 * With PUSHER_COMPAT_CLUSTER=1 the "server" is a 2-node cluster on its own
 * redis-server: `env.wsServer` (node B) is where pusher-js clients connect,
 * `env.apiServer` (node A) is what the `pusher` SDK and `env.port` (the HTTP
 * API port) point at. In single-node mode both are the same server.
 * `env.nodes` lists every node.
 */
async function createEnv({ name, apps = [DEFAULT_APP], activityTimeout = 30, webhooks = false } = {}) {
  const env = { clients: new Set(), sdks: new Map(), badSdks: new Map(), apps, cluster: CLUSTER, nodes: [], redis: null };
  env.webhook = webhooks ? await startWebhookServer() : null;
  const serverApps = apps.map((a) => {
    const app = { id: a.id, key: a.key, secret: a.secret, client_events: a.client_events, limits: a.limits };
    if (a.webhooks) app.webhooks = [{ url: env.webhook.url, event_types: a.webhooks }];
    return app;
  });
  env.auth = await startAuthServer(
    (key) => env.sdk(key),
    (key) => env.badSdk(key),
  );
  try {
    if (CLUSTER) {
      env.redis = await startRedis({ name: `${name}.cluster-redis` });
      // Defaults for heartbeat_interval_ms / node_timeout_ms: no test kills a node without a goodbye.
      const redis = { url: env.redis.url, prefix: `duplex-compat-${name}` };
      for (const node of ['a', 'b']) {
        env.nodes.push(await startServer({ apps: serverApps, activityTimeout, name: `${name}.cluster-node-${node}`, redis }));
      }
      await waitClusterReady(env.redis, redis.prefix, env.nodes.length);
    } else {
      env.nodes.push(await startServer({ apps: serverApps, activityTimeout, name }));
    }
  } catch (e) {
    for (const node of env.nodes) await node.stop();
    if (env.redis) await env.redis.stop();
    await env.auth.close();
    if (env.webhook) await env.webhook.close();
    throw e;
  }
  env.apiServer = env.nodes[0];
  env.wsServer = env.nodes[env.nodes.length - 1];
  /** The HTTP API port (node A in cluster mode). */
  env.port = env.apiServer.port;
  /** The WebSocket port pusher-js connects to (node B in cluster mode). */
  env.wsPort = env.wsServer.port;

  const appFor = (key) => (key ? apps.find((a) => a.key === key || a.id === key) : apps[0]);

  /** The `pusher` server SDK for an app (by key or id; default first app). */
  env.sdk = (key) => {
    const app = appFor(key);
    if (!app) throw new Error(`no app ${key}`);
    if (!env.sdks.has(app.key)) {
      const opts = { appId: app.id, key: app.key, secret: app.secret, host: HOST, port: String(env.port), useTLS: false, timeout: 5000 };
      if (app.encryptionMasterKeyBase64) opts.encryptionMasterKeyBase64 = app.encryptionMasterKeyBase64;
      env.sdks.set(app.key, new PusherSDK(opts));
    }
    return env.sdks.get(app.key);
  };
  /** Same app id/key, wrong secret. */
  env.badSdk = (key) => {
    const app = appFor(key);
    if (!env.badSdks.has(app.key)) {
      const opts = { appId: app.id, key: app.key, secret: `${app.secret}-WRONG`, host: HOST, port: String(env.port), useTLS: false, timeout: 5000 };
      if (app.encryptionMasterKeyBase64) opts.encryptionMasterKeyBase64 = app.encryptionMasterKeyBase64;
      env.badSdks.set(app.key, new PusherSDK(opts));
    }
    return env.badSdks.get(app.key);
  };

  /**
   * A pusher-js client configured for the local server. `user` = { id, info }
   * is sent to the auth endpoint (presence channel_data and user sign-in).
   * Resolves once `connection.state === 'connected'` unless `wait: false`.
   */
  env.client = async ({ user, appKey, wait = true } = {}) => {
    const key = appKey || apps[0].key;
    const params = {};
    if (user) {
      params.user_id = String(user.id);
      if (typeof user.id === 'number') params.user_id_type = 'number';
      if (user.info !== undefined) params.user_info = JSON.stringify(user.info);
    }
    env.clientCount = (env.clientCount || 0) + 1;
    const node = ALTERNATE_CLIENT_NODES ? env.nodes[env.clientCount % env.nodes.length] : env.wsServer;
    const client = new PusherJS(key, {
      wsHost: HOST,
      wsPort: node.port,
      forceTLS: false,
      enabledTransports: ['ws'],
      disableStats: true,
      cluster: 'mt1',
      channelAuthorization: {
        endpoint: `http://${HOST}:${env.auth.port}/pusher/auth`,
        transport: 'ajax',
        params,
        headers: { 'x-app-key': key },
      },
      userAuthentication: {
        endpoint: `http://${HOST}:${env.auth.port}/pusher/user-auth`,
        transport: 'ajax',
        params,
        headers: { 'x-app-key': key },
      },
    });
    nodeOfClient.set(client, node);
    env.clients.add(client);
    if (wait) await env.waitConnected(client);
    return client;
  };

  /** The server (node) a pusher-js client of this env connects to. */
  env.nodeOf = (client) => nodeOfClient.get(client);

  env.waitConnected = async (client, ms = 5000) => {
    if (client.connection.state === 'connected') return client;
    await withTimeout(
      new Promise((resolve) => {
        const cb = () => {
          client.connection.unbind('connected', cb);
          resolve();
        };
        client.connection.bind('connected', cb);
      }),
      ms,
      `pusher-js connected (state ${client.connection.state})`,
    );
    return client;
  };

  /** Disconnects every client created so far and gives the server a moment. */
  env.disconnectAll = async () => {
    for (const c of env.clients) {
      try {
        c.disconnect();
      } catch {
        /* ignore */
      }
    }
    env.clients.clear();
    await sleep(50);
  };

  /**
   * Cluster mode: the Redis adapter counters of every running node. A node
   * that lost Redis would quietly serve its own connections alone, which
   * many tests (all clients on node B) could not tell from a working cluster.
   */
  env.clusterHealth = async () => {
    const out = {};
    for (const node of env.nodes) {
      if (node.exited) continue;
      const res = await fetch(`http://${HOST}:${node.port}/metrics`, { signal: AbortSignal.timeout(5000) });
      const text = await res.text();
      const metric = (name) => {
        const m = text.match(new RegExp(`^${name} (\\S+)$`, 'm'));
        return m ? Number(m[1]) : undefined;
      };
      out[node.name] = {
        redis_up: metric('duplex_redis_up'),
        redis_errors: metric('duplex_redis_errors_total'),
        outages: metric('duplex_redis_outages_total'),
        bus_published: metric('duplex_cluster_bus_published_total'),
        bus_received: metric('duplex_cluster_bus_received_total'),
        bus_skipped: metric('duplex_cluster_bus_skipped_total'),
      };
    }
    return out;
  };

  env.close = async () => {
    await env.disconnectAll();
    let health;
    let healthError;
    if (env.redis) {
      health = await env.clusterHealth().catch((e) => {
        healthError = e;
      });
    }
    for (const node of env.nodes) {
      if (health && health[node.name]) node.footer = `# adapter metrics before shutdown: ${JSON.stringify(health[node.name])}\n`;
    }
    await env.auth.close();
    if (env.webhook) await env.webhook.close();
    await Promise.all(env.nodes.map((node) => node.stop()));
    if (env.redis) await env.redis.stop();
    await sleep(50);
    clearStaleCloseTimers();
    if (healthError) throw healthError;
    if (health) {
      for (const [node, h] of Object.entries(health)) {
        const ok = h.redis_up === 1 && h.redis_errors === 0 && h.outages === 0 && h.bus_skipped === 0;
        assert.ok(ok, `cluster node ${node} was not healthy at the end (see logs/${node}.log): ${JSON.stringify(h)}`);
      }
    }
  };

  /** Fails with the server log tail if a server (or the cluster's redis-server) died. */
  env.assertAlive = () => {
    for (const node of env.nodes) {
      assert.equal(node.exited, null, `duplex serve (${node.name}) exited: ${JSON.stringify(node.exited)}\n${node.logs().slice(-4000)}`);
    }
    if (env.redis) assert.equal(env.redis.exited, null, `redis-server exited: ${JSON.stringify(env.redis.exited)}\n${env.redis.logs().slice(-4000)}`);
  };

  return env;
}

module.exports = {
  HOST,
  DEFAULT_APP,
  DUPLEX_BIN,
  CLUSTER,
  PusherJS,
  PusherSDK,
  sleep,
  withTimeout,
  until,
  freePort,
  uniq,
  renderConfig,
  startServer,
  startRedis,
  redisCommand,
  startAuthServer,
  startWebhookServer,
  createEnv,
  nextEvent,
  record,
  recordMessages,
  rawFrames,
  subscribe,
  closeCodeOf,
  readBody,
};
