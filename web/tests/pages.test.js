'use strict';
// The demo's HTTP side: pages, assets and headers, and the validation and
// bounds of every demo endpoint.

const test = require('node:test');
const assert = require('node:assert/strict');

const { APP, startServer, launchBrowser, newVisitor, screenshot, saveLog, postJSON } = require('./helpers');

test('pages: routes, assets, headers and input validation', async (t) => {
  const server = await startServer();
  t.after(async () => {
    await server.stop();
    saveLog(server, 'pages-server');
  });

  await t.test('the index links both demos; pages get the app key; assets are embedded', async () => {
    const index = await fetch(`${server.url}/`);
    assert.equal(index.status, 200);
    assert.match(index.headers.get('content-type'), /^text\/html/);
    const html = await index.text();
    assert.match(html, /href="\/leaderboard"/);
    assert.match(html, /href="\/chat"/);
    for (const page of ['/leaderboard', '/chat']) {
      const response = await fetch(server.url + page);
      assert.equal(response.status, 200);
      const csp = response.headers.get('content-security-policy');
      assert.match(csp, /script-src 'self'/);
      assert.doesNotMatch(csp, /unsafe-inline/);
      assert.equal(response.headers.get('x-content-type-options'), 'nosniff');
      const text = await response.text();
      assert.ok(text.includes(`<meta name="duplex-app-key" content="${APP.key}">`), page);
      assert.ok(!text.includes(APP.secret), 'the secret stays on the server');
    }
    for (const [asset, type] of [['/assets/pusher.min.js', /javascript/], ['/assets/style.css', /css/], ['/assets/chat.js', /javascript/]]) {
      const response = await fetch(server.url + asset);
      assert.equal(response.status, 200, asset);
      assert.match(response.headers.get('content-type'), type);
      const etag = response.headers.get('etag');
      const again = await fetch(server.url + asset, { headers: { 'If-None-Match': etag } });
      assert.equal(again.status, 304, `${asset} revalidates`);
    }
    assert.equal((await fetch(`${server.url}/nope`)).status, 404);
    assert.equal((await fetch(`${server.url}/demo/leaderboard/score`)).status, 405);
    assert.equal((await fetch(`${server.url}/chat`, { method: 'POST' })).status, 405);
  });

  await t.test('every demo endpoint validates and bounds its input', async () => {
    const score = (body, headers) => postJSON(server, '/demo/leaderboard/score', body, headers);
    assert.equal((await score({ name: 'Ann', points: 5 })).status, 200);
    assert.equal((await score({ name: 'Ann', points: 5 }, { 'Content-Type': 'text/plain' })).status, 415, 'JSON only');
    assert.equal((await score({ name: 'x'.repeat(33), points: 5 })).status, 400, 'name too long');
    assert.equal((await score({ name: '   ', points: 5 })).status, 400, 'empty name');
    assert.equal((await score({ name: 'a\u0007b', points: 5 })).status, 400, 'control character');
    assert.equal((await score({ name: 'Ann', points: 0 })).status, 400);
    assert.equal((await score({ name: 'Ann', points: 101 })).status, 400);
    assert.equal((await score({ name: 'Ann', points: 1.5 })).status, 400);
    assert.equal((await score({ name: 'Ann', points: 5, admin: true })).status, 400, 'unknown field');
    assert.equal((await score({ name: 'Ann', points: 5, padding: 'x'.repeat(5000) })).status, 413, 'body too large');
    const board = await (await fetch(`${server.url}/demo/leaderboard/board?name=Ann`)).json();
    assert.deepEqual(board.top, [{ rank: 1, name: 'Ann', score: 5 }], 'only the valid score counted');
    assert.deepEqual(board.me, { name: 'Ann', rank: 1, score: 5 });

    const auth = (channel, extra = {}) => postJSON(server, '/demo/auth', {
      socket_id: '123.456', channel_name: channel, user_id: 'demo-abc', name: 'Ann', ...extra,
    });
    const signed = await auth('presence-chat-lobby');
    assert.equal(signed.status, 200);
    assert.match(signed.body.auth, new RegExp(`^${APP.key}:[0-9a-f]{64}$`));
    assert.deepEqual(JSON.parse(signed.body.channel_data), { user_id: 'demo-abc', user_info: { name: 'Ann' } });
    for (const channel of ['private-anything', 'presence-admins', 'presence-chat-UPPER', 'leaderboard']) {
      assert.equal((await auth(channel)).status, 403, `${channel} is not a demo channel`);
    }
    assert.equal((await auth('presence-leaderboard', { user_id: 'someone-else' })).status, 400, 'demo- user ids only');
    assert.equal((await auth('presence-leaderboard', { socket_id: 'x' })).status, 400);
    const user = await postJSON(server, '/demo/user-auth', { socket_id: '1.2', user_id: 'demo-abc', name: 'Ann' });
    assert.equal(user.status, 200);
    assert.equal(JSON.parse(user.body.user_data).id, 'demo-abc');

    const message = (extra) => postJSON(server, '/demo/chat/message', {
      room: 'lobby', socket_id: '123.456', name: 'Ann', text: 'hi', ...extra,
    });
    assert.equal((await message()).status, 403, 'only a member of the room may post');
    assert.equal((await message({ room: 'Not A Room' })).status, 400);
    assert.equal((await message({ text: 'x'.repeat(501) })).status, 400);
    assert.equal((await message({ text: '' })).status, 400);
    const history = await fetch(`${server.url}/demo/chat/history?room=lobby`);
    assert.deepEqual(await history.json(), { room: 'lobby', messages: [] });
    assert.equal((await fetch(`${server.url}/demo/chat/history?room=..%2Fetc`)).status, 400);
    assert.equal((await fetch(`${server.url}/demo/chat/history`)).status, 400);
  });

  await t.test('POSTs are rate-limited per client address', async () => {
    const statuses = [];
    for (let i = 0; i < 45; i++) statuses.push((await postJSON(server, '/demo/leaderboard/score', { name: 'Flood', points: 1 })).status);
    assert.ok(statuses.includes(429), `some requests are refused: ${statuses.join(',')}`);
    assert.equal(statuses[0], 200);
  });

  await t.test('the index page renders', async () => {
    const browser = await launchBrowser();
    try {
      const { page } = await newVisitor(browser);
      await page.goto(`${server.url}/`);
      await page.click('#to-leaderboard');
      await page.waitForURL(`${server.url}/leaderboard`);
      await page.goBack();
      await screenshot(page, 'index');
      assert.deepEqual(page.problems, []);
    } finally {
      await browser.close();
    }
  });
});
