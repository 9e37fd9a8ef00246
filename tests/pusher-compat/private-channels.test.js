'use strict';
// Cases 4, 6 (private part) and 7: private channels through the auth
// endpoint, bad signatures, client events, private-encrypted channels.
const crypto = require('node:crypto');
const { describe, it, before, after, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const { createEnv, subscribe, nextEvent, record, recordMessages, sleep, uniq, until, closeCodeOf, DEFAULT_APP } = require('./helpers');

const MASTER_KEY = crypto.randomBytes(32).toString('base64');
const APPS = [
  { ...DEFAULT_APP, encryptionMasterKeyBase64: MASTER_KEY },
  { id: '2', key: 'quiet-key', secret: 'quiet-secret', client_events: false },
];

describe('private channels', { timeout: 120000 }, () => {
  let env;
  before(async () => {
    env = await createEnv({ name: 'private-channels', apps: APPS });
  });
  after(async () => env && env.close());
  afterEach(async () => {
    env.assertAlive();
    await env.disconnectAll();
  });

  it('private channel: auth endpoint token is accepted and events arrive', { timeout: 15000 }, async () => {
    const client = await env.client();
    const name = uniq('private-room-');
    const { channel } = await subscribe(client, name);
    assert.equal(channel.subscribed, true);
    const req = env.auth.requests.find((r) => r.params.channel_name === name);
    assert.ok(req, 'pusher-js asked the auth endpoint');
    assert.equal(req.params.socket_id, client.connection.socket_id);
    assert.equal(req.contentType, 'application/x-www-form-urlencoded');

    const got = nextEvent(channel, 'secret-event');
    await env.sdk().trigger(name, 'secret-event', { a: 1 });
    assert.deepEqual((await got)[0], { a: 1 });
  });

  it('private channel with a token signed by the wrong secret does NOT subscribe', { timeout: 15000 }, async () => {
    const client = await env.client();
    const name = uniq('private-badsig-');
    const rec = recordMessages(client);
    const connErrors = record(client.connection, 'error');
    const channel = client.subscribe(name);
    const succeeded = record(channel, 'pusher:subscription_succeeded');
    const subErrors = record(channel, 'pusher:subscription_error');

    // Either convention: `pusher:subscription_error` on the channel (soketi) or `pusher:error` 4009 (Reverb).
    await until(
      () => subErrors.events.length > 0 || connErrors.events.some((e) => closeCodeOf(e.data) === 4009),
      5000,
      'pusher:subscription_error or pusher:error 4009',
    );
    await sleep(500);
    assert.equal(succeeded.events.length, 0, 'subscription must not succeed');
    assert.equal(channel.subscribed, false);
    assert.ok(!rec.messages.some((m) => m.event === 'pusher_internal:subscription_succeeded'), 'no subscription_succeeded frame');
    const frame = rec.messages.find((m) => m.event === 'pusher:subscription_error' || m.event === 'pusher:error');
    assert.ok(frame, 'an error frame was sent by the server (not a client-side auth failure)');

    // Events on that channel must not be delivered to the rejected socket.
    const evs = record(channel, 'leak');
    await env.sdk().trigger(name, 'leak', { x: 1 });
    await sleep(300);
    assert.equal(evs.events.length, 0, 'events leaked to a socket whose auth failed');

    // The connection stays usable (neither convention closes it).
    assert.equal(client.connection.state, 'connected');
    await subscribe(client, uniq('private-after-'));
    rec.stop();
  });

  it('private channel with a missing/garbage auth string does NOT subscribe', { timeout: 15000 }, async () => {
    const client = await env.client();
    const name = uniq('private-garbage-');
    const rec = recordMessages(client);
    // Bypass the auth endpoint: send the raw subscribe frame pusher-js would send.
    client.connection.send_event('pusher:subscribe', { channel: name, auth: 'app-key:deadbeef' });
    client.connection.send_event('pusher:subscribe', { channel: `${name}x`, auth: '' });
    await until(() => rec.messages.filter((m) => m.event === 'pusher:subscription_error' || m.event === 'pusher:error').length >= 2, 5000, 'two error frames');
    assert.ok(!rec.messages.some((m) => m.event === 'pusher_internal:subscription_succeeded'));
    rec.stop();
  });

  it('client events on a private channel reach the other member, not the sender', { timeout: 15000 }, async () => {
    const x = await env.client();
    const y = await env.client();
    const name = uniq('private-chat-');
    const chX = (await subscribe(x, name)).channel;
    const chY = (await subscribe(y, name)).channel;
    const recX = record(chX, 'client-x');
    const recY = record(chY, 'client-x');
    const errX = record(x.connection, 'error');

    assert.equal(chX.trigger('client-x', { msg: 'hi', n: [1, 2] }), true);
    await recY.waitForCount(1);
    assert.deepEqual(recY.events[0].data, { msg: 'hi', n: [1, 2] });
    // barrier: Y answers, X receives the answer; its own event would have come first
    chY.trigger('client-x', { msg: 'back' });
    await recX.waitForCount(1);
    await sleep(100);
    assert.deepEqual(recX.events.map((e) => e.data), [{ msg: 'back' }], 'sender must not receive its own client event');
    assert.equal(recY.events.length, 1);
    assert.equal(errX.events.length, 0, `unexpected errors: ${JSON.stringify(errX.events)}`);
  });

  it('client events on a public channel are not relayed', { timeout: 15000 }, async () => {
    const x = await env.client();
    const y = await env.client();
    const name = uniq('public-chat-');
    const chX = (await subscribe(x, name)).channel;
    const chY = (await subscribe(y, name)).channel;
    const recY = record(chY, 'client-x');
    chX.trigger('client-x', { msg: 'nope' });
    await sleep(500);
    assert.equal(recY.events.length, 0);
  });

  it('client events are not relayed when the app has client_events = false', { timeout: 15000 }, async () => {
    const x = await env.client({ appKey: 'quiet-key' });
    const y = await env.client({ appKey: 'quiet-key' });
    const name = uniq('private-quiet-');
    const chX = (await subscribe(x, name)).channel;
    const chY = (await subscribe(y, name)).channel;
    const recY = record(chY, 'client-x');
    chX.trigger('client-x', { msg: 'nope' });
    await sleep(500);
    assert.equal(recY.events.length, 0);
    // the app itself works
    const got = nextEvent(chY, 'server-ev');
    await env.sdk('quiet-key').trigger(name, 'server-ev', { ok: true });
    assert.deepEqual((await got)[0], { ok: true });
  });

  it('apps are isolated: same channel name on another app does not receive', { timeout: 15000 }, async () => {
    const a = await env.client();
    const q = await env.client({ appKey: 'quiet-key' });
    const name = uniq('shared-name-');
    const recA = record((await subscribe(a, name)).channel, 'ev');
    const recQ = record((await subscribe(q, name)).channel, 'ev');
    await env.sdk('quiet-key').trigger(name, 'ev', { app: 2 });
    await recQ.waitForCount(1);
    await env.sdk().trigger(name, 'ev', { app: 1 });
    await recA.waitForCount(1);
    await sleep(200);
    assert.deepEqual(recA.events.map((e) => e.data), [{ app: 1 }]);
    assert.deepEqual(recQ.events.map((e) => e.data), [{ app: 2 }]);
  });

  it('private-encrypted channel: pusher-js decrypts an SDK event; the server relays ciphertext untouched', { timeout: 15000 }, async () => {
    const client = await env.client();
    const name = uniq('private-encrypted-vault-');
    const rec = recordMessages(client);
    const { channel } = await subscribe(client, name);
    assert.ok(channel.key, 'pusher-js got shared_secret from the auth endpoint');

    const payload = { secret: 'top secret ✓', n: 42 };
    const got = nextEvent(channel, 'vault-event');
    const res = await env.sdk().trigger(name, 'vault-event', payload);
    assert.equal(res.status, 200);
    const [data] = await got;
    assert.deepEqual(data, payload);

    const frame = rec.messages.find((m) => m.event === 'vault-event');
    assert.ok(frame, 'raw frame seen');
    assert.equal(frame.channel, name);
    assert.deepEqual(Object.keys(frame.data).sort(), ['ciphertext', 'nonce']);
    assert.equal(Buffer.from(frame.data.nonce, 'base64').length, 24);
    assert.ok(!JSON.stringify(frame).includes('top secret'), 'plaintext must not be on the wire');
    rec.stop();
  });
});
