'use strict';
// Case 12: webhooks, verified with the SDK's pusher.webhook(request).
const { describe, it, before, after, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const { createEnv, subscribe, sleep, uniq, DEFAULT_APP, PusherSDK } = require('./helpers');

const APP = {
  ...DEFAULT_APP,
  webhooks: ['channel_occupied', 'channel_vacated', 'member_added', 'member_removed', 'client_event', 'cache_miss'],
};
// Vacated/removed may be delayed by a server (Pusher itself delays them a few seconds).
const HOOK_MS = 10000;
// Before counting: time for a duplicate (e.g. from the other node of a cluster) to arrive.
const SETTLE_MS = 300;

describe('webhooks', { timeout: 120000 }, () => {
  let env;
  before(async () => {
    env = await createEnv({ name: 'webhooks', apps: [APP], webhooks: true });
  });
  after(async () => env && env.close());
  afterEach(async () => {
    env.assertAlive();
    await env.disconnectAll();
  });

  /** Every request received so far must verify with the SDK and have the documented envelope. */
  function assertAllRequestsValid() {
    assert.ok(env.webhook.received.length > 0, 'no webhook received');
    const sdk = env.sdk();
    const wrong = new PusherSDK({ appId: APP.id, key: APP.key, secret: 'wrong-secret' });
    for (const r of env.webhook.received) {
      assert.equal(r.method, 'POST');
      assert.equal(r.url, '/webhooks');
      assert.equal(r.headers['x-pusher-key'], APP.key);
      assert.match(r.headers['x-pusher-signature'] || '', /^[0-9a-f]{64}$/);
      // pusher-http-node's WebHook only accepts exactly this content type
      assert.equal(r.headers['content-type'], 'application/json');
      const hook = sdk.webhook({ headers: r.headers, rawBody: r.rawBody });
      assert.equal(hook.isValid(), true, `invalid webhook: ${JSON.stringify(r.headers)} ${r.rawBody}`);
      assert.equal(wrong.webhook({ headers: r.headers, rawBody: r.rawBody }).isValid(), false);
      assert.equal(typeof hook.getTime().getTime(), 'number');
      assert.ok(Math.abs(hook.getData().time_ms - Date.now()) < 60000, `time_ms ${hook.getData().time_ms} is not now`);
      assert.ok(Array.isArray(hook.getEvents()) && hook.getEvents().length > 0);
    }
  }

  it('channel_occupied / channel_vacated for a public channel', { timeout: 30000 }, async () => {
    const name = uniq('hooked-');
    const c = await env.client();
    await subscribe(c, name);
    const occ = await env.webhook.waitFor((e) => e.name === 'channel_occupied' && e.channel === name, HOOK_MS, `channel_occupied ${name}`);
    assert.deepEqual(occ.event, { name: 'channel_occupied', channel: name });
    // a second subscriber does not re-occupy
    const c2 = await env.client();
    await subscribe(c2, name);
    c.unsubscribe(name);
    await sleep(300);
    assert.equal(env.webhook.events().filter(({ event }) => event.channel === name && event.name === 'channel_vacated').length, 0, 'vacated while still occupied');
    c2.disconnect();
    const vac = await env.webhook.waitFor((e) => e.name === 'channel_vacated' && e.channel === name, HOOK_MS, `channel_vacated ${name}`);
    assert.deepEqual(vac.event, { name: 'channel_vacated', channel: name });
    await sleep(SETTLE_MS);
    const mine = env.webhook.events().filter(({ event }) => event.channel === name).map(({ event }) => event.name);
    assert.deepEqual(mine, ['channel_occupied', 'channel_vacated']);
    assertAllRequestsValid();
  });

  it('member_added / member_removed for a presence channel (verified with pusher.webhook)', { timeout: 30000 }, async () => {
    const room = uniq('presence-hook-');
    const a = await env.client({ user: { id: 'hook-alice', info: { name: 'A' } } });
    const b = await env.client({ user: { id: 'hook-bob', info: { name: 'B' } } });
    const b2 = await env.client({ user: { id: 'hook-bob', info: { name: 'B' } } });
    await subscribe(a, room);
    await subscribe(b, room);
    await subscribe(b2, room);
    const addA = await env.webhook.waitFor((e) => e.name === 'member_added' && e.channel === room && e.user_id === 'hook-alice', HOOK_MS, 'member_added alice');
    assert.deepEqual(addA.event, { name: 'member_added', channel: room, user_id: 'hook-alice' });
    await env.webhook.waitFor((e) => e.name === 'member_added' && e.channel === room && e.user_id === 'hook-bob', HOOK_MS, 'member_added bob');
    await env.webhook.waitFor((e) => e.name === 'channel_occupied' && e.channel === room, HOOK_MS, 'channel_occupied presence');

    b.disconnect(); // bob still has b2
    await sleep(500);
    b2.disconnect();
    const remB = await env.webhook.waitFor((e) => e.name === 'member_removed' && e.channel === room && e.user_id === 'hook-bob', HOOK_MS, 'member_removed bob');
    assert.deepEqual(remB.event, { name: 'member_removed', channel: room, user_id: 'hook-bob' });
    a.unsubscribe(room);
    await env.webhook.waitFor((e) => e.name === 'member_removed' && e.channel === room && e.user_id === 'hook-alice', HOOK_MS, 'member_removed alice');
    await env.webhook.waitFor((e) => e.name === 'channel_vacated' && e.channel === room, HOOK_MS, 'channel_vacated presence');
    await sleep(SETTLE_MS);

    const names = env.webhook.events().filter(({ event }) => event.channel === room).map(({ event }) => `${event.name}${event.user_id ? `:${event.user_id}` : ''}`);
    const count = (n) => names.filter((x) => x === n).length;
    assert.equal(count('member_added:hook-bob'), 1, `bob added once across two sockets: ${names}`);
    assert.equal(count('member_removed:hook-bob'), 1, `bob removed once: ${names}`);
    assert.equal(count('member_added:hook-alice'), 1);
    assert.equal(count('member_removed:hook-alice'), 1);
    assert.equal(count('channel_occupied'), 1);
    assert.equal(count('channel_vacated'), 1);
    // per user: added before removed
    assert.ok(names.indexOf('member_added:hook-bob') < names.indexOf('member_removed:hook-bob'));
    assertAllRequestsValid();
  });

  it('client_event webhook carries channel, event, data, socket_id (+ user_id on presence)', { timeout: 30000 }, async () => {
    const priv = uniq('private-hookchat-');
    const room = uniq('presence-hookchat-');
    const x = await env.client({ user: { id: 'hook-x', info: {} } });
    const y = await env.client({ user: { id: 'hook-y', info: {} } });
    const chX = (await subscribe(x, priv)).channel;
    await subscribe(y, priv);
    const pX = (await subscribe(x, room)).channel;
    await subscribe(y, room);
    chX.trigger('client-note', { n: 1 });
    pX.trigger('client-note', { n: 2 });

    const e1 = (await env.webhook.waitFor((e) => e.name === 'client_event' && e.channel === priv, HOOK_MS, 'client_event private')).event;
    const e2 = (await env.webhook.waitFor((e) => e.name === 'client_event' && e.channel === room, HOOK_MS, 'client_event presence')).event;
    for (const [e, n] of [
      [e1, 1],
      [e2, 2],
    ]) {
      assert.equal(e.event, 'client-note');
      assert.equal(e.socket_id, x.connection.socket_id);
      // Pusher's webhook docs show `data` as the event data string; accept an object too, but it must round-trip
      const data = typeof e.data === 'string' ? JSON.parse(e.data) : e.data;
      assert.deepEqual(data, { n });
    }
    assert.equal(e1.user_id, undefined, 'user_id only on presence channels');
    assert.equal(e2.user_id, 'hook-x');
    await sleep(SETTLE_MS);
    for (const channel of [priv, room]) {
      const n = env.webhook.events().filter(({ event }) => event.name === 'client_event' && event.channel === channel).length;
      assert.equal(n, 1, `one client_event webhook per client event on ${channel}, got ${n}`);
    }
    assertAllRequestsValid();
  });

  it('cache_miss webhook when subscribing to an empty cache channel', { timeout: 20000 }, async () => {
    const name = uniq('cache-hook-');
    const c = await env.client();
    await subscribe(c, name);
    const miss = await env.webhook.waitFor((e) => e.name === 'cache_miss' && e.channel === name, HOOK_MS, 'cache_miss');
    assert.deepEqual(miss.event, { name: 'cache_miss', channel: name });
    await sleep(SETTLE_MS);
    const misses = env.webhook.events().filter(({ event }) => event.name === 'cache_miss' && event.channel === name).length;
    assert.equal(misses, 1, `one cache_miss webhook, got ${misses}`);
    assertAllRequestsValid();
  });
});
