'use strict';
// The chat demo in headless Chromium: two visitors in one room, messages,
// presence, typing indicators (client events), leaving, history for
// newcomers, and user data that stays text.

const test = require('node:test');
const assert = require('node:assert/strict');

const { startServer, launchBrowser, newVisitor, waitForState, screenshot, saveLog } = require('./helpers');

const INJECTION = '<img src=x onerror=alert(1)>';

async function enter(browser, server, name, room = 'lobby') {
  const visitor = await newVisitor(browser);
  await visitor.page.goto(`${server.url}/chat#${room}`);
  await visitor.page.fill('#name', name);
  await visitor.page.click('#join button[type=submit]');
  await waitForState(visitor.page, 'connected');
  await visitor.page.waitForSelector('#send-button:not([disabled])'); // subscribed to the room
  return visitor;
}

const members = (page) => page.$$eval('#members li .name', (names) => names.map((n) => n.textContent).sort());

const waitForMembers = (page, names) =>
  page.waitForFunction(
    (wanted) => JSON.stringify([...document.querySelectorAll('#members li .name')].map((n) => n.textContent).sort()) === JSON.stringify(wanted),
    [...names].sort(),
    { timeout: 5000 },
  );

const messages = (page) =>
  page.$$eval('#log .msg', (items) => items.map((li) => [li.querySelector('.who').textContent, li.querySelector('.text').textContent]));

async function send(page, text) {
  await page.fill('#text', text);
  await page.press('#text', 'Enter');
}

test('chat: messages, presence, typing, leaving, history, escaping', async (t) => {
  const server = await startServer();
  const browser = await launchBrowser();
  t.after(async () => {
    await browser.close();
    await server.stop();
    saveLog(server, 'chat-server');
  });

  const ann = await enter(browser, server, 'Ann');
  const bob = await enter(browser, server, 'Bob');

  await t.test('presence lists both visitors on both pages', async () => {
    await waitForMembers(ann.page, ['Ann', 'Bob']);
    await waitForMembers(bob.page, ['Ann', 'Bob']);
    assert.equal(await ann.page.textContent('#online-count'), '2');
    await ann.page.waitForSelector('#log .notice >> text=Bob joined');
  });

  await t.test('a message typed on one page appears on the other', async () => {
    await send(ann.page, 'Hi Bob! This went through duplex.');
    await bob.page.waitForSelector('#log .msg .text >> text=Hi Bob! This went through duplex.', { timeout: 2000 });
    await send(bob.page, 'Hello Ann, loud and clear.');
    await ann.page.waitForSelector('#log .msg .text >> text=Hello Ann, loud and clear.', { timeout: 2000 });
    assert.deepEqual(await messages(ann.page), [['Ann', 'Hi Bob! This went through duplex.'], ['Bob', 'Hello Ann, loud and clear.']]);
    assert.deepEqual(await messages(bob.page), await messages(ann.page));
    assert.equal(await ann.page.$$eval('#log .msg.mine', (items) => items.length), 1, 'own messages are marked');
  });

  await t.test('typing on one page shows an indicator on the other', async () => {
    await bob.page.type('#text', 'Shall we try the leader', { delay: 10 });
    await ann.page.waitForFunction(() => document.querySelector('#typing').textContent === 'Bob is typing…', null, { timeout: 2000 });
    // Ann sent her message: her "stopped typing" reached Bob, whatever the order of arrival.
    await bob.page.waitForFunction(() => document.querySelector('#typing').textContent === '', null, { timeout: 2000 });
    await screenshot(ann.page, 'chat');
  });

  await t.test('names and messages are shown as text, never as HTML', async () => {
    const mallory = await enter(browser, server, INJECTION);
    await waitForMembers(ann.page, ['Ann', 'Bob', INJECTION]);
    await send(mallory.page, `${INJECTION}<script>alert(2)</script>`);
    await ann.page.waitForFunction((name) => [...document.querySelectorAll('#log .msg .who')].some((w) => w.textContent === name), INJECTION, { timeout: 2000 });
    const last = (await messages(ann.page)).at(-1);
    assert.deepEqual(last, [INJECTION, `${INJECTION}<script>alert(2)</script>`]);
    for (const page of [ann.page, bob.page, mallory.page]) {
      assert.equal(await page.$$eval('#log img, #members img, #log script', (found) => found.length), 0);
    }
    assert.ok((await ann.page.textContent('#log')).includes(`${INJECTION} joined`));
    await ann.page.waitForTimeout(200); // an injected onerror would have fired by now
    assert.deepEqual(mallory.page.problems, []);
    await mallory.context.close();
    await waitForMembers(ann.page, ['Ann', 'Bob']);
  });

  await t.test('a newcomer gets the room history, and other rooms stay apart', async () => {
    const cleo = await enter(browser, server, 'Cleo');
    await cleo.page.waitForFunction(() => document.querySelectorAll('#log .msg').length === 3, null, { timeout: 2000 });
    assert.deepEqual((await messages(cleo.page)).slice(0, 2), [['Ann', 'Hi Bob! This went through duplex.'], ['Bob', 'Hello Ann, loud and clear.']]);
    await cleo.page.click('#rooms a[href="#rust"]');
    await cleo.page.waitForFunction(() => document.querySelector('#room-title').textContent === '# rust');
    await waitForMembers(cleo.page, ['Cleo']);
    assert.deepEqual(await messages(cleo.page), []);
    await waitForMembers(ann.page, ['Ann', 'Bob']);
    await cleo.context.close();
  });

  await t.test('closing a page updates the list on the other', async () => {
    await bob.context.close();
    await waitForMembers(ann.page, ['Ann']);
    await ann.page.waitForSelector('#log .notice >> text=Bob left');
    assert.equal(await ann.page.textContent('#online-count'), '1');
    assert.equal(await ann.page.textContent('#typing'), '', 'a member who left no longer types');
  });

  assert.deepEqual(ann.page.problems, []);
  assert.deepEqual(bob.page.problems, []);
  assert.deepEqual(await members(ann.page), ['Ann']);
});
