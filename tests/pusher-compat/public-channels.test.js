'use strict';
// Cases 2 and 3: public channels, trigger to several channels, socket_id
// exclusion and triggerBatch, all through the real `pusher` SDK.
const { describe, it, before, after, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const { createEnv, subscribe, nextEvent, record, recordMessages, sleep, uniq, until } = require('./helpers');

describe('public channels', { timeout: 90000 }, () => {
  let env;
  before(async () => {
    env = await createEnv({ name: 'public-channels' });
  });
  after(async () => env && env.close());
  afterEach(async () => {
    env.assertAlive();
    await env.disconnectAll();
  });

  it('subscribe → pusher:subscription_succeeded, then a triggered event arrives with deep-equal data', { timeout: 15000 }, async () => {
    const client = await env.client();
    const name = uniq('public-');
    const rec = recordMessages(client);
    await subscribe(client, name);
    const ok = rec.messages.find((m) => m.event === 'pusher_internal:subscription_succeeded');
    assert.ok(ok, 'pusher_internal:subscription_succeeded frame');
    assert.equal(ok.channel, name);

    const channel = client.channel(name);
    const got = nextEvent(channel, 'my-event');
    const res = await env.sdk().trigger(name, 'my-event', { a: 1 });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), {});
    const [data] = await got;
    assert.deepEqual(data, { a: 1 });
    const frame = rec.messages.find((m) => m.event === 'my-event');
    assert.equal(frame.channel, name);
    rec.stop();
  });

  it('string data and nested JSON arrive unchanged', { timeout: 15000 }, async () => {
    const client = await env.client();
    const name = uniq('public-');
    const { channel } = await subscribe(client, name);
    const rec = record(channel, 'ev');
    const nested = { s: 'ünïcødé ✓', n: 1.5, arr: [1, null, true, { x: 'y' }], e: {} };
    await env.sdk().trigger(name, 'ev', nested);
    await env.sdk().trigger(name, 'ev', 'plain string, not JSON');
    await rec.waitForCount(2);
    assert.deepEqual(rec.events[0].data, nested);
    assert.equal(rec.events[1].data, 'plain string, not JSON');
  });

  it('one trigger to several channels reaches each channel exactly once', { timeout: 15000 }, async () => {
    const a = await env.client();
    const b = await env.client();
    const names = [uniq('multi-'), uniq('multi-'), uniq('multi-')];
    const recs = [];
    for (const n of names.slice(0, 2)) recs.push(record((await subscribe(a, n)).channel, 'multi-event'));
    recs.push(record((await subscribe(b, names[2])).channel, 'multi-event'));
    const globalA = record(a, 'multi-event');

    await env.sdk().trigger(names, 'multi-event', { hello: 'world' });
    for (const r of recs) await r.waitForCount(1);
    await sleep(300);
    for (const r of recs) {
      assert.equal(r.events.length, 1);
      assert.deepEqual(r.events[0].data, { hello: 'world' });
    }
    // pusher-js global binding sees one emission per channel the client is on
    assert.equal(globalA.events.length, 2);
  });

  it('socket_id excludes that connection but not another', { timeout: 15000 }, async () => {
    const a = await env.client();
    const b = await env.client();
    const name = uniq('excl-');
    const recA = record((await subscribe(a, name)).channel, 'ev');
    const recB = record((await subscribe(b, name)).channel, 'ev');

    await env.sdk().trigger(name, 'ev', { n: 1 }, { socket_id: a.connection.socket_id });
    await recB.waitForCount(1);
    assert.deepEqual(recB.events[0].data, { n: 1 });
    // a second, non-excluded event acts as a barrier: once A sees it, the first one would have arrived before it
    await env.sdk().trigger(name, 'ev', { n: 2 });
    await recA.waitForCount(1);
    await recB.waitForCount(2);
    assert.deepEqual(
      recA.events.map((e) => e.data),
      [{ n: 2 }],
      'excluded socket must not receive the first event',
    );
  });

  it('unsubscribe stops delivery', { timeout: 15000 }, async () => {
    const a = await env.client();
    const b = await env.client();
    const name = uniq('unsub-');
    const recA = record((await subscribe(a, name)).channel, 'ev');
    const recB = record((await subscribe(b, name)).channel, 'ev');
    a.unsubscribe(name);
    await sleep(200);
    await env.sdk().trigger(name, 'ev', { n: 1 });
    await recB.waitForCount(1);
    await sleep(300);
    assert.equal(recA.events.length, 0);
  });

  it('triggerBatch: several events to several channels arrive in order per channel', { timeout: 20000 }, async () => {
    const a = await env.client();
    const b = await env.client();
    const names = [uniq('batch-'), uniq('batch-'), uniq('batch-')];
    const recs = {};
    recs[names[0]] = record((await subscribe(a, names[0])).channel, null);
    recs[names[1]] = record((await subscribe(a, names[1])).channel, null);
    recs[names[2]] = record((await subscribe(b, names[2])).channel, null);

    const batch = [];
    for (let i = 0; i < 9; i++) {
      batch.push({ channel: names[i % 3], name: `batch-ev-${i % 2}`, data: { i } });
    }
    const expected = {};
    for (const n of names) expected[n] = batch.filter((e) => e.channel === n).map((e) => ({ name: e.name, data: { i: e.data.i } }));

    const res = await env.sdk().triggerBatch(batch.map((e) => ({ ...e })));
    assert.equal(res.status, 200);
    const body = await res.json();
    assert.equal(typeof body, 'object');

    const userEvents = (r) => r.events.filter((e) => !e.name.startsWith('pusher:')).map((e) => ({ name: e.name, data: e.data }));
    for (const n of names) {
      await until(() => userEvents(recs[n]).length >= 3, 5000, `3 batch events on ${n}`);
    }
    await sleep(200);
    for (const n of names) assert.deepEqual(userEvents(recs[n]), expected[n], `events on ${n}`);
  });

  it('triggerBatch with socket_id excludes the sender per item', { timeout: 15000 }, async () => {
    const a = await env.client();
    const b = await env.client();
    const name = uniq('batchx-');
    const recA = record((await subscribe(a, name)).channel, 'ev');
    const recB = record((await subscribe(b, name)).channel, 'ev');
    await env.sdk().triggerBatch([
      { channel: name, name: 'ev', data: { n: 1 }, socket_id: a.connection.socket_id },
      { channel: name, name: 'ev', data: { n: 2 } },
    ]);
    await recB.waitForCount(2);
    await recA.waitForCount(1);
    await sleep(200);
    assert.deepEqual(recA.events.map((e) => e.data), [{ n: 2 }]);
    assert.deepEqual(recB.events.map((e) => e.data), [{ n: 1 }, { n: 2 }]);
  });
});
