'use strict';
// permessage-deflate in a real browser: headless Chromium (which always offers
// `permessage-deflate; client_max_window_bits`) talks to `duplex echo`, round-trips
// text messages of 10 B, 64 KiB and 4 MiB, and the server's own log proves the
// extension was negotiated and that the messages travelled compressed both ways.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const { chromium } = require('playwright-core');

const ROOT = path.resolve(__dirname, '..', '..');
const DUPLEX_BIN = process.env.DUPLEX_BIN || path.join(ROOT, 'target', 'debug', 'duplex');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

async function startEcho() {
  const port = await freePort();
  const child = spawn(DUPLEX_BIN, ['echo', '--listen', `127.0.0.1:${port}`], {
    env: { ...process.env, RUST_LOG: 'debug', DUPLEX_LOG_FORMAT: 'json' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  child.stderr.on('data', (chunk) => { log += chunk; });
  const deadline = Date.now() + 10_000;
  while (!log.includes('echo server listening')) {
    if (Date.now() > deadline) throw new Error(`duplex echo did not start:\n${log}`);
    if (child.exitCode !== null) throw new Error(`duplex echo exited:\n${log}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return { port, log: () => log, stop: () => child.kill('SIGTERM') };
}

test('Chromium round-trips 10 B, 64 KiB and 4 MiB through permessage-deflate', { timeout: 60_000 }, async () => {
  const echo = await startEcho();
  // playwright-core gives the browser a fresh temporary profile of its own.
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const page = await browser.newPage();
    const result = await page.evaluate(async (url) => {
      const ws = new WebSocket(url);
      await new Promise((resolve, reject) => { ws.onopen = resolve; ws.onerror = () => reject(new Error('connect failed')); });
      const sizes = [10, 64 * 1024, 4 * 1024 * 1024];
      const echoed = [];
      for (const size of sizes) {
        // Compressible but not trivial: JSON-like text with a counter.
        let text = '';
        for (let i = 0; text.length < size; i++) text += `{"seq":${i},"player":"p${i % 97}","score":${i * 7 % 1000}},`;
        text = text.slice(0, size);
        const reply = new Promise((resolve) => { ws.onmessage = (e) => resolve(e.data); });
        ws.send(text);
        const got = await reply;
        echoed.push({ size, ok: got === text, length: got.length });
      }
      const extensions = ws.extensions;
      ws.close(1000, 'done');
      await new Promise((resolve) => { ws.onclose = resolve; });
      return { extensions, echoed };
    }, `ws://127.0.0.1:${echo.port}/`);
    assert.match(result.extensions, /permessage-deflate/);
    for (const { size, ok, length } of result.echoed) {
      assert.ok(ok, `message of ${size} bytes came back changed (length ${length})`);
    }
    // Server side: the connection's summary names the negotiated parameters and
    // counts compressed messages in both directions.
    let summary;
    const deadline = Date.now() + 5000;
    while (!summary && Date.now() < deadline) {
      summary = echo.log().split('\n').filter((l) => l.includes('connection ended')).map((l) => JSON.parse(l))[0];
      if (!summary) await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(summary, `no connection summary in the server log:\n${echo.log()}`);
    const fields = summary.fields;
    assert.match(fields.deflate, /^Some\(DeflateParams/, 'the server negotiated permessage-deflate');
    assert.equal(fields.messages_in, 3);
    assert.equal(fields.compressed_in, 3, 'Chromium compressed every message');
    assert.ok(fields.compressed_out >= 2, `the server compressed its echoes (${fields.compressed_out} of 3; the 10 B one may go plain)`);
  } finally {
    await browser.close();
    echo.stop();
  }
});
