'use strict';
// Case 10: user sign-in, terminateUserConnections (and sendToUser).
const { describe, it, before, after, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const { createEnv, subscribe, record, recordMessages, nextEvent, sleep, uniq, until, closeCodeOf } = require('./helpers');

/** Calls client.signin() and waits for pusher:signin_success and the #server-to-user-{id} subscription. */
async function signin(client, userId) {
  const rec = recordMessages(client);
  client.signin();
  await until(() => rec.messages.some((m) => m.event === 'pusher:signin_success' || m.event === 'pusher:error'), 5000, 'pusher:signin_success');
  const ok = rec.messages.find((m) => m.event === 'pusher:signin_success');
  assert.ok(ok, `signin failed: ${JSON.stringify(rec.messages)}`);
  assert.equal(typeof ok.data.user_data, 'string', 'signin_success data.user_data is the JSON string');
  assert.equal(JSON.parse(ok.data.user_data).id, userId);
  await until(() => client.user.user_data && client.user.user_data.id === userId, 2000, 'pusher-js accepted user_data');
  const name = `#server-to-user-${userId}`;
  await until(
    () => rec.messages.some((m) => m.channel === name && (m.event === 'pusher_internal:subscription_succeeded' || m.event === 'pusher:subscription_error')),
    5000,
    `${name} subscription`,
  );
  assert.ok(
    rec.messages.some((m) => m.channel === name && m.event === 'pusher_internal:subscription_succeeded'),
    `${name} subscription rejected: ${JSON.stringify(rec.messages.filter((m) => m.channel === name))}`,
  );
  rec.stop();
}

describe('users: sign-in, terminate connections, send to user', { timeout: 90000 }, () => {
  let env;
  before(async () => {
    env = await createEnv({ name: 'users' });
  });
  after(async () => env && env.close());
  afterEach(async () => {
    env.assertAlive();
    await env.disconnectAll();
  });

  it('terminateUserConnections closes all sockets of that user with 4009; another user stays connected', { timeout: 20000 }, async () => {
    const victimId = uniq('victim-');
    const otherId = uniq('other-');
    const v1 = await env.client({ user: { id: victimId } });
    const v2 = await env.client({ user: { id: victimId } });
    const other = await env.client({ user: { id: otherId } });
    await signin(v1, victimId);
    await signin(v2, victimId);
    await signin(other, otherId);
    const otherSocket = other.connection.socket_id;
    const name = uniq('still-');
    const { channel: otherCh } = await subscribe(other, name);

    const errs = [v1, v2].map((c) => record(c.connection, 'error'));
    const states = [v1, v2].map((c) => record(c.connection, 'state_change'));
    const otherStates = record(other.connection, 'state_change');

    const res = await env.sdk().terminateUserConnections(victimId);
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), {});

    for (const [i, c] of [v1, v2].entries()) {
      await until(() => c.connection.state !== 'connected', 5000, `victim socket ${i} leaves connected`);
      await until(() => errs[i].events.some((e) => closeCodeOf(e.data) !== undefined), 5000, `close code on victim socket ${i}`);
      const codes = errs[i].events.map((e) => closeCodeOf(e.data)).filter((x) => x !== undefined);
      assert.ok(codes.includes(4009), `victim socket ${i}: expected close code 4009, got ${JSON.stringify(codes)}`);
      // 4009 is in 4000-4099: pusher-js must not reconnect
      await until(() => c.connection.state === 'disconnected', 5000, `victim socket ${i} disconnected (is ${c.connection.state})`);
      assert.equal(states[i].events[0].data.previous, 'connected');
    }
    await sleep(1000);
    for (const c of [v1, v2]) assert.equal(c.connection.state, 'disconnected', 'no reconnect after 4009');

    assert.equal(other.connection.state, 'connected');
    assert.equal(other.connection.socket_id, otherSocket);
    assert.equal(otherStates.events.length, 0, `other user changed state: ${JSON.stringify(otherStates.events)}`);
    const got = nextEvent(otherCh, 'still-there');
    await env.sdk().trigger(name, 'still-there', { ok: 1 });
    assert.deepEqual((await got)[0], { ok: 1 });
  });

  it('terminateUserConnections for a user with no connections → 200 {}', { timeout: 10000 }, async () => {
    const res = await env.sdk().terminateUserConnections(uniq('nobody-'));
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), {});
  });

  it('sendToUser reaches every socket of the signed-in user only', { timeout: 15000 }, async () => {
    const uid = uniq('dm-');
    const a1 = await env.client({ user: { id: uid } });
    const a2 = await env.client({ user: { id: uid } });
    const otherId = uniq('dm-other-');
    const b = await env.client({ user: { id: otherId } });
    await signin(a1, uid);
    await signin(a2, uid);
    await signin(b, otherId);
    const r1 = record(a1.user, 'dm');
    const r2 = record(a2.user, 'dm');
    const rb = record(b.user, 'dm');
    const res = await env.sdk().sendToUser(uid, 'dm', { text: 'hello' });
    assert.equal(res.status, 200);
    await r1.waitForCount(1);
    await r2.waitForCount(1);
    await sleep(200);
    assert.deepEqual(r1.events[0].data, { text: 'hello' });
    assert.deepEqual(r2.events[0].data, { text: 'hello' });
    assert.equal(rb.events.length, 0);
  });

  it('#server-to-user-{id} cannot be subscribed without signing in as that user', { timeout: 15000 }, async () => {
    const uid = uniq('guarded-');
    const intruder = await env.client({ user: { id: uniq('intruder-') } });
    const rec = recordMessages(intruder);
    // what pusher-js would send after sign-in, but without signing in
    intruder.connection.send_event('pusher:subscribe', { channel: `#server-to-user-${uid}`, auth: '' });
    await sleep(500);
    assert.ok(
      !rec.messages.some((m) => m.event === 'pusher_internal:subscription_succeeded' && m.channel === `#server-to-user-${uid}`),
      'server accepted #server-to-user-* for a socket that is not signed in as that user',
    );
    const leaked = [];
    intruder.connection.bind('message', (m) => m.event === 'dm' && leaked.push(m));
    await env.sdk().sendToUser(uid, 'dm', { secret: 1 });
    await sleep(300);
    assert.equal(leaked.length, 0, 'event for another user leaked');
    rec.stop();
  });

  it('sign-in with a token signed by the wrong secret is rejected (pusher:error 4009 or close)', { timeout: 15000 }, async () => {
    const client = await env.client({ user: { id: uniq('forger-') } });
    const rec = recordMessages(client);
    const errs = record(client.connection, 'error');
    const bad = env.badSdk().authenticateUser(client.connection.socket_id, { id: 'forger' });
    client.connection.send_event('pusher:signin', bad);
    await until(() => errs.events.length > 0 || client.connection.state !== 'connected', 5000, 'rejection of forged signin');
    assert.ok(!rec.messages.some((m) => m.event === 'pusher:signin_success'), 'forged signin accepted');
    const codes = errs.events.map((e) => closeCodeOf(e.data)).filter((x) => x !== undefined);
    assert.ok(codes.includes(4009), `expected 4009, got ${JSON.stringify(errs.events)}`);
    rec.stop();
  });
});
