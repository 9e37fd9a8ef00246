'use strict';
// Case 1: pusher-js connects to `duplex serve` and gets a socket id.
const { describe, it, before, after, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const { createEnv, nextEvent, record, recordMessages, rawFrames, subscribe, closeCodeOf, until, uniq } = require('./helpers');

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
  it('wire format: server data fields are JSON-encoded strings (double encoding)', { timeout: 15000 }, async () => {
    const client = await env.client({ user: { id: 'wire', info: { k: 'v' } } });
    const raw = rawFrames(client);
    const established = JSON.parse(raw[0]);
    assert.equal(established.event, 'pusher:connection_established');
    assert.equal(typeof established.data, 'string', `connection_established data must be a string: ${raw[0]}`);
    const hs = JSON.parse(established.data);
    assert.equal(hs.socket_id, client.connection.socket_id);
    assert.equal(hs.activity_timeout, 30);

    const pub = uniq('wire-');
    const { channel } = await subscribe(client, pub);
    const got = nextEvent(channel, 'ev');
    const published = '{"a":1,"b":[true,null]}';
    await env.sdk().trigger(pub, 'ev', published); // string data is sent verbatim by the SDK
    await got;
    const frame = raw.map((f) => JSON.parse(f)).find((m) => m.event === 'ev');
    assert.deepEqual(frame, { event: 'ev', channel: pub, data: published });

    const room = uniq('presence-wire-');
    await subscribe(client, room);
    const ok = raw.map((f) => JSON.parse(f)).find((m) => m.event === 'pusher_internal:subscription_succeeded' && m.channel === room);
    assert.equal(typeof ok.data, 'string', 'presence subscription_succeeded data is a JSON string');
    assert.deepEqual(JSON.parse(ok.data), { presence: { ids: ['wire'], hash: { wire: { k: 'v' } }, count: 1 } });
  });

  it('pusher:subscribe with data as a JSON string (not an object) is accepted', { timeout: 15000 }, async () => {
    const client = await env.client();
    const rec = recordMessages(client);
    const name = uniq('strdata-');
    client.connection.send_event('pusher:subscribe', JSON.stringify({ channel: name, auth: '' }));
    await until(() => rec.messages.some((m) => m.channel === name), 5000, 'reply to string-data subscribe');
    assert.ok(rec.messages.some((m) => m.event === 'pusher_internal:subscription_succeeded' && m.channel === name), JSON.stringify(rec.messages));
    rec.stop();
  });

  it('server shutdown (SIGTERM) closes clients with 4200 and pusher-js retries', { timeout: 20000 }, async () => {
    const own = await createEnv({ name: 'connect-shutdown' });
    try {
      const client = await own.client();
      const name = uniq('shutdown-');
      await subscribe(client, name);
      assert.deepEqual(await (await own.sdk().get({ path: `/channels/${name}` })).json(), { occupied: true });
      const errs = record(client.connection, 'error');
      const states = record(client.connection, 'state_change');
      // the server this client is connected to (node B in cluster mode)
      const node = own.nodeOf(client);
      node.child.kill('SIGTERM');
      await until(() => errs.events.some((e) => closeCodeOf(e.data) !== undefined), 10000, 'close code on shutdown');
      const codes = errs.events.map((e) => closeCodeOf(e.data)).filter((c) => c !== undefined);
      assert.ok(codes.includes(4200), `expected 4200 (reconnect), got ${JSON.stringify(codes)}`);
      await until(() => states.events.some((e) => e.data.current === 'connecting'), 5000, 'pusher-js reconnecting');
      if (own.cluster && node !== own.apiServer) {
        // Cluster: the stopped node said goodbye, so the other node reports its channel
        // vacated at once (not only after node_timeout_ms, 10 s, when it would be reaped).
        await until(
          async () => {
            const res = await own.sdk().get({ path: `/channels/${name}` });
            return res.status === 200 && (await res.json()).occupied === false;
          },
          3000,
          `${name} unoccupied on the remaining node`,
        );
      }
    } finally {
      await own.close();
    }
  });
});
