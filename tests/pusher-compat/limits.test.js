'use strict';
// Extra: configured [apps.limits] as pusher-js and the SDK experience them.
const { describe, it, before, after, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const { createEnv, subscribe, record, recordMessages, sleep, uniq, until, closeCodeOf, DEFAULT_APP } = require('./helpers');

const CONN_APP = { id: '10', key: 'conn-key', secret: 'conn-secret', client_events: false, limits: { max_connections: 2 } };
const LIMITED = {
  id: '11',
  key: 'limited-key',
  secret: 'limited-secret',
  client_events: true,
  limits: {
    max_presence_members: 2,
    max_presence_user_info_bytes: 100,
    client_event_rate_per_second: 5,
    max_channel_name_length: 50,
    max_event_name_length: 30,
    max_channels_per_publish: 3,
    max_event_payload_bytes: 2000,
    max_batch_size: 3,
  },
};

/** Subscribes and expects the server to refuse (either documented convention). */
async function expectRefused(client, name) {
  const rec = recordMessages(client);
  const channel = client.subscribe(name);
  const ok = record(channel, 'pusher:subscription_succeeded');
  await until(
    () => rec.messages.some((m) => (m.event === 'pusher:subscription_error' && m.channel === name) || m.event === 'pusher:error') || ok.events.length > 0,
    5000,
    `refusal of ${name}`,
  );
  await sleep(200);
  assert.equal(ok.events.length, 0, `${name} must not subscribe`);
  rec.stop();
  return rec.messages.filter((m) => m.event === 'pusher:subscription_error' || m.event === 'pusher:error');
}

async function sdkStatus(promise) {
  try {
    const res = await promise;
    return res.status;
  } catch (e) {
    if (e.name !== 'PusherRequestError') throw e;
    return e.status;
  }
}

describe('limits', { timeout: 120000 }, () => {
  let env;
  before(async () => {
    env = await createEnv({ name: 'limits', apps: [DEFAULT_APP, CONN_APP, LIMITED] });
  });
  after(async () => env && env.close());
  afterEach(async () => {
    env.assertAlive();
    await env.disconnectAll();
  });

  it('max_connections: the connection over quota is refused with 4004; a slot frees up on disconnect', { timeout: 20000 }, async () => {
    const c1 = await env.client({ appKey: 'conn-key' });
    await env.client({ appKey: 'conn-key' });
    const c3 = await env.client({ appKey: 'conn-key', wait: false });
    const errs = record(c3.connection, 'error');
    await until(() => errs.events.some((e) => closeCodeOf(e.data) !== undefined), 5000, 'quota close code');
    const codes = errs.events.map((e) => closeCodeOf(e.data)).filter((c) => c !== undefined);
    assert.ok(codes.includes(4004), `expected 4004, got ${JSON.stringify(codes)}`);
    await until(() => c3.connection.state === 'disconnected', 5000, `over-quota client gives up (state ${c3.connection.state})`);
    // other apps are unaffected
    await env.client();
    c1.disconnect();
    await sleep(300);
    await env.client({ appKey: 'conn-key' });
  });

  it('max_presence_members: the third distinct member is refused; members see no member_added', { timeout: 20000 }, async () => {
    const room = uniq('presence-full-');
    const a = await env.client({ appKey: 'limited-key', user: { id: 'a', info: {} } });
    const b = await env.client({ appKey: 'limited-key', user: { id: 'b', info: {} } });
    const c = await env.client({ appKey: 'limited-key', user: { id: 'c', info: {} } });
    const { channel: chA } = await subscribe(a, room);
    const added = record(chA, 'pusher:member_added');
    await subscribe(b, room);
    await added.waitForCount(1);
    const errors = await expectRefused(c, room);
    assert.ok(errors.length > 0);
    await sleep(200);
    assert.deepEqual(added.events.map((e) => e.data.id), ['b'], 'no member_added for the refused member');
    assert.equal(chA.members.count, 2);
  });

  it('max_presence_user_info_bytes: oversized user_info is refused', { timeout: 15000 }, async () => {
    const c = await env.client({ appKey: 'limited-key', user: { id: 'big', info: { blob: 'x'.repeat(200) } } });
    await expectRefused(c, uniq('presence-biginfo-'));
  });

  it('max_channel_name_length: 50 chars subscribes, 51 is refused', { timeout: 15000 }, async () => {
    const c = await env.client({ appKey: 'limited-key' });
    await subscribe(c, 'n'.repeat(50));
    await expectRefused(c, 'm'.repeat(51));
  });

  it('client_event_rate_per_second: a burst is cut off with 4301', { timeout: 15000 }, async () => {
    const name = uniq('private-burst-');
    const x = await env.client({ appKey: 'limited-key' });
    const y = await env.client({ appKey: 'limited-key' });
    const chX = (await subscribe(x, name)).channel;
    const chY = (await subscribe(y, name)).channel;
    const got = record(chY, 'client-burst');
    const errs = record(x.connection, 'error');
    for (let i = 0; i < 12; i++) chX.trigger('client-burst', { i });
    await until(() => errs.events.some((e) => closeCodeOf(e.data) === 4301), 5000, 'error 4301 for the sender');
    await sleep(500);
    assert.ok(got.events.length >= 1 && got.events.length <= 6, `receiver got ${got.events.length} of 12 (limit 5/s)`);
    assert.deepEqual(got.events.map((e) => e.data.i), got.events.map((_, i) => i), 'the first events pass, in order');
  });

  it('HTTP limits: event name, channels per publish, payload bytes, batch size → 400/413', { timeout: 15000 }, async () => {
    const sdk = env.sdk('limited-key');
    assert.equal(await sdkStatus(sdk.trigger('ok-chan', 'e'.repeat(30), {})), 200);
    assert.equal(await sdkStatus(sdk.trigger('ok-chan', 'e'.repeat(31), {})), 400);
    assert.equal(await sdkStatus(sdk.trigger(['c1', 'c2', 'c3'], 'ev', {})), 200);
    assert.equal(await sdkStatus(sdk.trigger(['c1', 'c2', 'c3', 'c4'], 'ev', {})), 400);
    assert.equal(await sdkStatus(sdk.trigger('ok-chan', 'ev', 'x'.repeat(2000))), 200);
    assert.equal(await sdkStatus(sdk.trigger('ok-chan', 'ev', 'x'.repeat(2001))), 413);
    assert.equal(await sdkStatus(sdk.trigger('c'.repeat(51), 'ev', {})), 400);
    const item = (i) => ({ channel: 'ok-chan', name: 'ev', data: { i } });
    assert.equal(await sdkStatus(sdk.triggerBatch([item(1), item(2), item(3)])), 200);
    assert.ok([400, 413].includes(await sdkStatus(sdk.triggerBatch([item(1), item(2), item(3), item(4)]))));
  });
});
