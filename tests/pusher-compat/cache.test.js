'use strict';
// Case 8: cache channels (`cache-*`, `private-cache-*`).
const { describe, it, before, after, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const { createEnv, subscribe, record, recordMessages, sleep, uniq, until } = require('./helpers');

/** Protocol frames for `name` after (and including) subscription_succeeded. */
function framesFor(rec, name) {
  return rec.messages.filter((m) => m.channel === name).map((m) => ({ event: m.event, data: m.data }));
}

describe('cache channels', { timeout: 90000 }, () => {
  let env;
  before(async () => {
    env = await createEnv({ name: 'cache' });
  });
  after(async () => env && env.close());
  afterEach(async () => {
    env.assertAlive();
    await env.disconnectAll();
  });

  it('nothing cached → pusher:cache_miss right after subscription_succeeded', { timeout: 15000 }, async () => {
    const client = await env.client();
    const name = uniq('cache-x-');
    const rec = recordMessages(client);
    const channel = client.subscribe(name);
    const miss = record(channel, 'pusher:cache_miss');
    await miss.waitForCount(1);
    assert.equal(channel.subscribed, true);
    const frames = framesFor(rec, name);
    assert.deepEqual(
      frames.map((f) => f.event),
      ['pusher_internal:subscription_succeeded', 'pusher:cache_miss'],
    );
    rec.stop();
  });

  it('after a trigger, a NEW subscriber immediately receives the last event (and no cache_miss)', { timeout: 15000 }, async () => {
    const first = await env.client();
    const name = uniq('cache-x-');
    const { channel: ch1 } = await subscribe(first, name);
    const live = record(ch1, null);
    await env.sdk().trigger(name, 'price', { v: 1 });
    await env.sdk().trigger(name, 'price-final', { v: 2 });
    await until(() => live.events.filter((e) => e.name.startsWith('price')).length === 2, 5000, 'live events');

    const second = await env.client();
    const rec = recordMessages(second);
    const channel = second.subscribe(name);
    const got = record(channel, null);
    await until(() => got.events.some((e) => e.name === 'price-final'), 5000, 'cached event replay');
    await sleep(300);
    const userEvents = got.events.filter((e) => !e.name.startsWith('pusher:'));
    assert.deepEqual(userEvents, [{ name: 'price-final', data: { v: 2 }, meta: undefined }]);
    assert.deepEqual(
      framesFor(rec, name).map((f) => f.event),
      ['pusher_internal:subscription_succeeded', 'price-final'],
      'replay follows subscription_succeeded; no cache_miss when something is cached',
    );
    rec.stop();
  });

  it('private-cache channel: auth + replay of the last event', { timeout: 15000 }, async () => {
    const name = uniq('private-cache-x-');
    await env.sdk().trigger(name, 'state', { s: 'cached while empty' });
    const client = await env.client();
    const rec = recordMessages(client);
    const channel = client.subscribe(name);
    const got = record(channel, null);
    await until(() => got.events.some((e) => e.name === 'state' || e.name === 'pusher:cache_miss'), 5000, 'replay or cache_miss');
    // Pusher caches the last event for 30 minutes even when nobody is subscribed.
    const replay = got.events.find((e) => e.name === 'state');
    assert.ok(replay, `expected the cached event, got ${JSON.stringify(framesFor(rec, name))}`);
    assert.deepEqual(replay.data, { s: 'cached while empty' });
    rec.stop();
  });
});
