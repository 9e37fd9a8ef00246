'use strict';
// Case 1: pusher-js connects to `duplex serve` and gets a socket id.
const { describe, it, before, after, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const { createEnv, nextEvent, recordMessages, closeCodeOf, until } = require('./helpers');

describe('connection', { timeout: 60000 }, () => {
  let env;
  before(async () => {
    env = await createEnv({ name: 'connect', activityTimeout: 30 });
  });
  after(async () => env && env.close());
  afterEach(async () => {
    env.assertAlive();
    await env.disconnectAll();
  });

  it('connection.state becomes connected with a socket_id like 123.456', { timeout: 15000 }, async () => {
    const client = await env.client();
    assert.equal(client.connection.state, 'connected');
    assert.match(client.connection.socket_id, /^\d+\.\d+$/);
  });

  it('two connections get distinct socket ids', { timeout: 15000 }, async () => {
    const a = await env.client();
    const b = await env.client();
    assert.notEqual(a.connection.socket_id, b.connection.socket_id);
  });

  it('handshake activity_timeout (config 30 s) is applied by pusher-js', { timeout: 15000 }, async () => {
    const client = await env.client();
    // pusher-js: min(client default 120000 ms, server activity_timeout * 1000)
    assert.equal(client.connection.activityTimeout, 30000);
  });

  it('pusher:ping is answered with pusher:pong', { timeout: 15000 }, async () => {
    const client = await env.client();
    const rec = recordMessages(client);
    assert.equal(client.connection.send_event('pusher:ping', {}), true);
    await until(() => rec.messages.some((m) => m.event === 'pusher:pong'), 5000, 'pusher:pong');
    rec.stop();
    assert.equal(client.connection.state, 'connected');
  });

  it('unknown app key is refused with close code 4001 (pusher-js stops retrying)', { timeout: 15000 }, async () => {
    const client = await env.client({ appKey: 'no-such-key', wait: false });
    const [err] = await nextEvent(client.connection, 'error', 5000, 'connection error for unknown key', (e) => closeCodeOf(e) !== undefined);
    assert.equal(closeCodeOf(err), 4001, `error: ${JSON.stringify(err)}`);
    await until(() => client.connection.state === 'disconnected', 5000, `state disconnected (is ${client.connection.state})`);
  });
});
