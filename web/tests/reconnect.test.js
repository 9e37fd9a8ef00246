'use strict';
// Reconnection in headless Chromium: when the server drops the page's
// socket, the page reconnects, resubscribes and catches up with the board.

const test = require('node:test');
const assert = require('node:assert/strict');

const { startServer, launchBrowser, newVisitor, waitForState, saveLog, api, postJSON } = require('./helpers');

const topOf = (page) => page.$eval('#board li', (li) => [li.dataset.name, Number(li.querySelector('.score').textContent)]).catch(() => null);

/** Waits until the board shows `name` with `score`. */
const waitForRow = (page, name, score, timeout = 5000) =>
  page.waitForFunction(([n, s]) => {
    const row = [...document.querySelectorAll('#board li')].find((li) => li.dataset.name === n);
    return row?.querySelector('.score').textContent === String(s);
  }, [name, score], { timeout });

/** Waits until the board's first row is `name` with `score`. */
const waitForTop = (page, name, score, timeout = 5000) =>
  page.waitForFunction(([n, s]) => {
    const first = document.querySelector('#board li');
    return first?.dataset.name === n && first.querySelector('.score').textContent === String(s);
  }, [name, score], { timeout });

/** Waits until the page is in presence-leaderboard (it counts itself). */
const subscribed = (page) => page.waitForFunction(() => document.querySelector('#viewer-count').textContent === '1');

const score = async (server, name, points) => assert.equal((await postJSON(server, '/demo/leaderboard/score', { name, points })).status, 200);

test('reconnect: after terminate_connections the page reconnects and catches up', async (t) => {
  const server = await startServer();
  const browser = await launchBrowser();
  t.after(async () => {
    await browser.close();
    await server.stop();
    saveLog(server, 'reconnect-server');
  });
  const { page } = await newVisitor(browser);
  await page.goto(`${server.url}/leaderboard`);
  await waitForState(page, 'connected');
  await subscribed(page);
  await score(server, 'Zed', 10);
  await waitForTop(page, 'Zed', 10);
  const userId = await page.evaluate(() => document.body.dataset.userId);
  assert.match(userId, /^demo-[0-9a-f]{16}$/);

  for (const round of [1, 2]) {
    // The page signed in as its user: the HTTP API closes its socket (4009).
    await page.waitForFunction(() => window.demo.pusher.user.user_data !== null, null, { timeout: 5000 });
    const socketBefore = await page.evaluate(() => document.body.dataset.socketId);
    await api(server, 'POST', `/users/${userId}/terminate_connections`, {});
    await page.waitForFunction(() => document.body.dataset.state !== 'connected', null, { timeout: 2000 });
    // Scored while the page is offline: it can only learn this by catching up.
    await score(server, `Yan${round}`, 20 + round);
    assert.notEqual(await page.evaluate(() => document.body.dataset.state), 'connected', 'still offline when the score was made');
    await waitForState(page, 'connected', 10000);
    await waitForRow(page, `Yan${round}`, 20 + round, 2000);
    const socketAfter = await page.evaluate(() => document.body.dataset.socketId);
    assert.notEqual(socketAfter, socketBefore, 'a new connection');
    // Resubscribed: live updates flow again, and the page counts as a viewer.
    await score(server, 'Xi', 50);
    await waitForRow(page, 'Xi', 50 * round, 1000);
    await page.waitForFunction(() => document.querySelector('#viewer-count').textContent === '1');
  }
  assert.deepEqual(page.problems, []);
});

test('reconnect: after a server restart the page reconnects and shows the new board', async (t) => {
  const first = await startServer();
  const browser = await launchBrowser();
  let second = null;
  t.after(async () => {
    await browser.close();
    await first.stop();
    if (second) await second.stop();
    saveLog(first, 'restart-server-1');
    if (second) saveLog(second, 'restart-server-2');
  });
  const { page } = await newVisitor(browser);
  await page.goto(`${first.url}/leaderboard`);
  await waitForState(page, 'connected');
  await subscribed(page);
  await score(first, 'Old', 30);
  await waitForTop(page, 'Old', 30);

  await first.stop(); // tells clients to reconnect (4200), then exits
  await page.waitForFunction(() => document.body.dataset.state !== 'connected', null, { timeout: 5000 });
  second = await startServer({ port: first.port });
  const restarted = Date.now();
  await score(second, 'New', 1); // a new, in-memory board: version 1 again
  await waitForState(page, 'connected', 30000);
  t.diagnostic(`server back -> page connected: ${Date.now() - restarted} ms`);
  await waitForTop(page, 'New', 1, 3000);
  assert.deepEqual(await page.$$eval('#board li', (rows) => rows.map((li) => li.dataset.name)), ['New']);
  assert.deepEqual(await topOf(page), ['New', 1]);
  assert.deepEqual(page.problems, []);
});
