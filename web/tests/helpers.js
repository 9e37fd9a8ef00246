'use strict';
// Shared by the browser tests: starts `duplex serve` on a free loopback port,
// launches Debian's headless Chromium through playwright-core, signs HTTP API
// requests, and saves screenshots under web/test-results/.

const { spawn } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');

const { chromium } = require('playwright-core');

const HOST = '127.0.0.1';
const ROOT = path.resolve(__dirname, '..', '..');
const DUPLEX_BIN = process.env.DUPLEX_BIN || path.join(ROOT, 'target', 'debug', 'duplex');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const RESULTS = path.join(__dirname, '..', 'test-results');
/** The screenshots the README shows, refreshed with DUPLEX_DOCS_SCREENSHOTS=1. */
const DOCS_SCREENSHOTS = ['leaderboard', 'chat'];
const APP = Object.freeze({ id: 'duplex', key: 'duplex-key', secret: `test-secret-${process.pid}` });

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** A free TCP port on 127.0.0.1. */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, HOST, () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/**
 * Starts `duplex serve --listen 127.0.0.1:PORT` with the default app and a
 * known secret, on a free port or on `port`; resolves once it prints
 * `listening on http://…` on stderr. Returns `{url, port, pid, log(), stop()}`.
 */
async function startServer({ port: wanted } = {}) {
  if (!fs.existsSync(DUPLEX_BIN)) {
    throw new Error(`${DUPLEX_BIN} not found: build it first with \`cargo build -p duplex-cli\``);
  }
  let lastError;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = wanted || await freePort();
    try {
      return await spawnServer(port);
    } catch (error) {
      lastError = error; // most likely another process took the port: try another
      if (wanted) await sleep(200);
    }
  }
  throw lastError;
}

function spawnServer(port) {
  const env = { ...process.env, DUPLEX_APP_SECRET: APP.secret, RUST_LOG: process.env.RUST_LOG || 'info' };
  for (const name of ['DUPLEX_CONFIG', 'DUPLEX_LISTEN', 'DUPLEX_APP_ID', 'DUPLEX_APP_KEY']) delete env[name];
  const child = spawn(DUPLEX_BIN, ['serve', '--listen', `${HOST}:${port}`, '--drain', '1'], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk) => { output += chunk; });
  child.stderr.on('data', (chunk) => { output += chunk; });
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const server = {
    port,
    pid: child.pid,
    url: `http://${HOST}:${port}`,
    log: () => output,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      process.kill(child.pid, 'SIGTERM');
      const timer = setTimeout(() => { try { process.kill(child.pid, 'SIGKILL'); } catch { /* gone */ } }, 5000);
      await exited;
      clearTimeout(timer);
    },
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      server.stop();
      reject(new Error(`duplex serve did not start within 10 s:\n${output}`));
    }, 10000);
    const onData = () => {
      if (/listening on http:\/\//.test(output)) {
        clearTimeout(timer);
        child.stderr.off('data', onData);
        resolve(server);
      }
    };
    child.stderr.on('data', onData);
    exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`duplex serve exited (${code ?? signal}) before listening:\n${output}`));
    });
  });
}

/**
 * Launches headless Chromium. Playwright gives the browser a fresh temporary
 * --user-data-dir of its own, and deletes it on close.
 */
function launchBrowser() {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found: apt-get install -y chromium`);
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, timeout: 30000 });
}

/**
 * A new browser context (its own storage: another visitor) and page.
 * Uncaught page errors and dialogs (an `alert` would mean injected script
 * ran) are collected in `page.problems`.
 */
async function newVisitor(browser, { width = 1100, height = 720 } = {}) {
  const context = await browser.newContext({ viewport: { width, height } });
  const page = await context.newPage();
  page.problems = [];
  page.on('pageerror', (error) => page.problems.push(`page error: ${error.message}`));
  page.on('dialog', (dialog) => {
    page.problems.push(`dialog: ${dialog.type()} ${dialog.message()}`);
    dialog.dismiss().catch(() => {});
  });
  page.on('console', (message) => {
    // Failed connection attempts while a test has the server down are
    // expected; so is the wss:// fallback that pusher-js tries after 2 s
    // with enabledTransports ['ws', 'wss'] (the server speaks plain ws).
    const expected = /status of 4\d\d|ERR_CONNECTION_REFUSED|ERR_SSL_PROTOCOL_ERROR/;
    if (message.type() === 'error' && !expected.test(message.text())) {
      page.problems.push(`console error: ${message.text()}`);
    }
  });
  return { context, page };
}

/** Waits until the page's pusher-js connection state is `state`. */
function waitForState(page, state, timeout = 10000) {
  return page.waitForFunction((s) => document.body.dataset.state === s, state, { timeout });
}

/** Saves a screenshot (down to the end of the content) under web/test-results/; returns its path. */
async function screenshot(page, name) {
  fs.mkdirSync(RESULTS, { recursive: true });
  const file = path.join(RESULTS, `${name}.png`);
  const { width, height } = page.viewportSize();
  const bottom = await page.evaluate(() => Math.max(...[...document.body.children]
    .filter((e) => e.tagName !== 'SCRIPT' && !e.hidden)
    .map((e) => e.getBoundingClientRect().bottom)));
  await page.screenshot({ path: file, clip: { x: 0, y: 0, width, height: Math.min(height, Math.ceil(bottom) + 20) } });
  if (process.env.DUPLEX_DOCS_SCREENSHOTS && DOCS_SCREENSHOTS.includes(name)) {
    const docs = path.join(ROOT, 'docs', 'img');
    fs.mkdirSync(docs, { recursive: true });
    fs.copyFileSync(file, path.join(docs, `${name}.png`));
  }
  return file;
}

/** Saves the server's log under web/test-results/ (for a failing run). */
function saveLog(server, name) {
  fs.mkdirSync(RESULTS, { recursive: true });
  fs.writeFileSync(path.join(RESULTS, `${name}.log`), server.log());
}

/** A signed HTTP API request (Pusher's scheme) to the test app. */
async function api(server, method, apiPath, body) {
  const text = body === undefined ? '' : JSON.stringify(body);
  const params = {
    auth_key: APP.key,
    auth_timestamp: String(Math.floor(Date.now() / 1000)),
    auth_version: '1.0',
  };
  if (text) params.body_md5 = crypto.createHash('md5').update(text).digest('hex');
  const query = Object.keys(params).sort().map((k) => `${k}=${params[k]}`).join('&');
  const fullPath = `/apps/${APP.id}${apiPath}`;
  const signature = crypto.createHmac('sha256', APP.secret).update(`${method}\n${fullPath}\n${query}`).digest('hex');
  const response = await fetch(`${server.url}${fullPath}?${query}&auth_signature=${signature}`, {
    method,
    headers: text ? { 'Content-Type': 'application/json' } : {},
    body: text || undefined,
  });
  const reply = await response.text();
  if (!response.ok) throw new Error(`${method} ${apiPath}: ${response.status} ${reply}`);
  return reply ? JSON.parse(reply) : {};
}

/** POSTs JSON to a demo endpoint; returns `{status, body}`. */
async function postJSON(server, endpoint, data, headers = { 'Content-Type': 'application/json' }) {
  const response = await fetch(server.url + endpoint, { method: 'POST', headers, body: JSON.stringify(data) });
  return { status: response.status, body: await response.json().catch(() => null) };
}

module.exports = {
  APP, ROOT, RESULTS, sleep, startServer, launchBrowser, newVisitor, waitForState, screenshot, saveLog, api, postJSON,
};
