'use strict';
// The leaderboard demo in headless Chromium: two visitors, live re-ranking
// within a second, the viewer count (presence), and a board that survives a
// reload and greets newcomers.

const test = require('node:test');
const assert = require('node:assert/strict');

const { startServer, launchBrowser, newVisitor, waitForState, screenshot, saveLog, postJSON } = require('./helpers');

/** The board as a page shows it: [[rank, name, score], …]. */
const boardOf = (page) =>
  page.$$eval('#board li', (rows) =>
    rows.map((li) => [Number(li.querySelector('.rank').textContent), li.dataset.name, Number(li.querySelector('.score').textContent)]));

const viewers = (page, count) =>
  page.waitForFunction((n) => document.querySelector('#viewer-count').textContent === String(n), count, { timeout: 5000 });

async function join(page, name) {
  await page.fill('#name', name);
  await page.click('#join button[type=submit]');
  await page.waitForSelector('#play:not([hidden])');
}

test('leaderboard: scores re-rank every page within a second; viewers; reload keeps the board', async (t) => {
  const server = await startServer();
  const browser = await launchBrowser();
  t.after(async () => {
    await browser.close();
    await server.stop();
    saveLog(server, 'leaderboard-server');
  });

  const ann = await newVisitor(browser);
  const bob = await newVisitor(browser);
  await ann.page.goto(`${server.url}/leaderboard`);
  await bob.page.goto(`${server.url}/leaderboard`);
  await waitForState(ann.page, 'connected');
  await waitForState(bob.page, 'connected');

  await t.test('both pages count two viewers', async () => {
    await viewers(ann.page, 2);
    await viewers(bob.page, 2);
  });

  await t.test('points scored on one page show on the other', async () => {
    await join(bob.page, 'Bob');
    await bob.page.click('[data-points="10"]');
    await ann.page.waitForFunction(() => document.querySelector('#board li[data-name="Bob"] .score')?.textContent === '10');
    // Scores posted by anyone else (here: the HTTP endpoint itself) go to every page too.
    for (const [name, points] of [['Cleo', 12], ['Dmitri', 7], ['Eve', 3]]) {
      const { status } = await postJSON(server, '/demo/leaderboard/score', { name, points });
      assert.equal(status, 200);
    }
    await join(ann.page, 'Ann');
    await ann.page.click('[data-points="5"]');
    await bob.page.waitForFunction(() => document.querySelector('#board li[data-name="Ann"] .rank')?.textContent === '4');
    assert.deepEqual(await boardOf(bob.page), [[1, 'Cleo', 12], [2, 'Bob', 10], [3, 'Dmitri', 7], [4, 'Ann', 5], [5, 'Eve', 3]]);
  });

  await t.test('a rank change reaches the other page within 1000 ms of the click', async () => {
    const clicked = Date.now();
    await ann.page.click('[data-points="10"]');
    const left = Math.max(1, 1000 - (Date.now() - clicked));
    await bob.page.waitForFunction(() => {
      const first = document.querySelector('#board li');
      return first?.dataset.name === 'Ann'
        && first.querySelector('.rank').textContent === '1'
        && first.querySelector('.score').textContent === '15'
        && first.classList.contains('up'); // animated as a climb
    }, null, { timeout: left });
    const elapsed = Date.now() - clicked;
    assert.ok(elapsed <= 1000, `took ${elapsed} ms`);
    t.diagnostic(`click on one page -> new rank on the other: ${elapsed} ms`);
    assert.deepEqual(await boardOf(bob.page), [[1, 'Ann', 15], [2, 'Cleo', 12], [3, 'Bob', 10], [4, 'Dmitri', 7], [5, 'Eve', 3]]);
    assert.equal(await ann.page.textContent('#me-rank'), '1');
    assert.equal(await ann.page.textContent('#me-score'), '15');
    await bob.page.waitForTimeout(250); // mid-animation: the climb is highlighted
    await screenshot(bob.page, 'leaderboard');
  });

  await t.test('a reload keeps the board and the player', async () => {
    await bob.page.reload();
    await waitForState(bob.page, 'connected');
    await bob.page.waitForFunction(() => document.querySelectorAll('#board li').length === 5);
    assert.deepEqual(await boardOf(bob.page), [[1, 'Ann', 15], [2, 'Cleo', 12], [3, 'Bob', 10], [4, 'Dmitri', 7], [5, 'Eve', 3]]);
    assert.equal(await bob.page.textContent('#me-name'), 'Bob');
    assert.equal(await bob.page.textContent('#me-score'), '10');
    assert.equal(await bob.page.textContent('#me-rank'), '3');
    await viewers(bob.page, 2);
    await viewers(ann.page, 2);
  });

  await t.test('a newcomer sees the current board at once', async () => {
    const cy = await newVisitor(browser);
    const started = Date.now();
    await cy.page.goto(`${server.url}/leaderboard`);
    await cy.page.waitForFunction(() => document.querySelectorAll('#board li').length === 5, null, { timeout: 2000 });
    t.diagnostic(`navigation -> board shown: ${Date.now() - started} ms`);
    assert.deepEqual((await boardOf(cy.page))[0], [1, 'Ann', 15]);
    await viewers(ann.page, 3);
    await cy.context.close();
    await viewers(ann.page, 2);
    assert.deepEqual(cy.page.problems, []);
  });

  assert.deepEqual(ann.page.problems, []);
  assert.deepEqual(bob.page.problems, []);
});
