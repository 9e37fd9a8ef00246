'use strict';
// Cases 9 and 11: channel queries through the SDK and HTTP API errors.
const crypto = require('node:crypto');
const { describe, it, before, after, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const { createEnv, subscribe, sleep, uniq, until, HOST, PusherSDK, DEFAULT_APP } = require('./helpers');

const QUERY_APP = { id: '3', key: 'query-key', secret: 'query-secret', client_events: false };
const APPS = [DEFAULT_APP, QUERY_APP];

const md5 = (s) => crypto.createHash('md5').update(s, 'utf8').digest('hex');
const hmac = (secret, s) => crypto.createHmac('sha256', secret).update(s, 'utf8').digest('hex');

/** Signs like pusher-http-node but lets a test choose every input. */
function signedUrl(port, { method, path, params = {}, body, secret = DEFAULT_APP.secret, key = DEFAULT_APP.key, timestamp, bodyMd5 }) {
  const q = { auth_key: key, auth_timestamp: timestamp ?? Math.floor(Date.now() / 1000), auth_version: '1.0', ...params };
  if (bodyMd5 !== undefined) q.body_md5 = bodyMd5;
  else if (body) q.body_md5 = md5(body);
  const query = Object.keys(q)
    .map((k) => [k.toLowerCase(), q[k]])
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  const sig = hmac(secret, [method, path, query].join('\n'));
  const qs = Object.entries({ ...q, auth_signature: sig })
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)
    .join('&');
  return `http://${HOST}:${port}${path}?${qs}`;
}

async function rawRequest(port, opts) {
  const url = signedUrl(port, opts);
  const headers = opts.body ? { 'content-type': 'application/json' } : {};
  const res = await fetch(url, { method: opts.method, headers, body: opts.sendBody ?? opts.body, signal: AbortSignal.timeout(5000) });
  const text = await res.text();
  return { status: res.status, text };
}

async function json(resPromise) {
  const res = await resPromise;
  assert.equal(res.status, 200);
  return res.json();
}

/** Resolves with the RequestError of a rejected SDK call. */
async function sdkError(promise) {
  try {
    const res = await promise;
    assert.fail(`expected an error, got HTTP ${res.status}`);
  } catch (e) {
    if (e.name !== 'PusherRequestError') throw e;
    return e;
  }
}

describe('HTTP API', { timeout: 120000 }, () => {
  let env;
  before(async () => {
    env = await createEnv({ name: 'http-api', apps: APPS });
  });
  after(async () => env && env.close());
  afterEach(async () => {
    env.assertAlive();
    await env.disconnectAll();
  });

  describe('channel queries (SDK get)', () => {
    it('/channels, /channels/{name} and /channels/{name}/users report exact counts', { timeout: 20000 }, async (t) => {
      const sdk = env.sdk('query-key');
      const room = 'presence-room';
      const lobby = 'lobby';
      const alice1 = await env.client({ appKey: 'query-key', user: { id: 'alice', info: { n: 1 } } });
      const alice2 = await env.client({ appKey: 'query-key', user: { id: 'alice', info: { n: 1 } } });
      const bob = await env.client({ appKey: 'query-key', user: { id: 'bob', info: { n: 2 } } });
      for (const c of [alice1, alice2, bob]) await subscribe(c, room);
      await subscribe(alice1, lobby);
      await subscribe(bob, lobby);

      // GET /channels?filter_by_prefix=presence-&info=user_count
      assert.deepEqual(await json(sdk.get({ path: '/channels', params: { filter_by_prefix: 'presence-', info: 'user_count' } })), {
        channels: { [room]: { user_count: 2 } },
      });
      // GET /channels (no params): empty attribute hash per occupied channel
      assert.deepEqual(await json(sdk.get({ path: '/channels' })), { channels: { [room]: {}, [lobby]: {} } });
      // GET /channels?filter_by_prefix=lob
      assert.deepEqual(await json(sdk.get({ path: '/channels', params: { filter_by_prefix: 'lob' } })), { channels: { [lobby]: {} } });

      // GET /channels/presence-room?info=user_count
      assert.deepEqual(await json(sdk.get({ path: `/channels/${room}`, params: { info: 'user_count' } })), { occupied: true, user_count: 2 });

      // GET /channels/presence-room?info=subscription_count,user_count
      const res = await sdk.get({ path: `/channels/${room}`, params: { info: 'subscription_count,user_count' } }).catch((e) => e);
      if (res.status === 200) {
        assert.deepEqual(await res.json(), { occupied: true, user_count: 2, subscription_count: 3 });
      } else {
        // Pusher's HTTP API reference lists subscription_count as "All (except Presence channels)" and
        // says an unavailable attribute returns an error; 400 is therefore acceptable here.
        assert.equal(res.status, 400, `unexpected ${res.status}: ${res.body}`);
        t.diagnostic('server rejects subscription_count on a presence channel with 400 (documented behaviour)');
      }

      // GET /channels/lobby?info=subscription_count
      assert.deepEqual(await json(sdk.get({ path: `/channels/${lobby}`, params: { info: 'subscription_count' } })), {
        occupied: true,
        subscription_count: 2,
      });
      // GET /channels/lobby (no info)
      assert.deepEqual(await json(sdk.get({ path: `/channels/${lobby}` })), { occupied: true });

      // GET /channels/presence-room/users
      const users = await json(sdk.get({ path: `/channels/${room}/users` }));
      assert.deepEqual(Object.keys(users), ['users']);
      assert.deepEqual([...users.users].sort((a, b) => a.id.localeCompare(b.id)), [{ id: 'alice' }, { id: 'bob' }]);

      // alice closes ONE socket: still 2 users, then bob leaves: 1 user
      alice1.disconnect();
      await until(
        async () => {
          const r = await json(sdk.get({ path: `/channels/${lobby}`, params: { info: 'subscription_count' } }));
          return r.subscription_count === 1;
        },
        5000,
        'lobby subscription_count 1 after alice1 disconnect',
      );
      assert.deepEqual(await json(sdk.get({ path: `/channels/${room}`, params: { info: 'user_count' } })), { occupied: true, user_count: 2 });
      bob.disconnect();
      await until(
        async () => (await json(sdk.get({ path: `/channels/${room}`, params: { info: 'user_count' } }))).user_count === 1,
        5000,
        'user_count 1 after bob left',
      );
      assert.deepEqual(await json(sdk.get({ path: `/channels/${room}/users` })), { users: [{ id: 'alice' }] });
      // lobby now empty → unoccupied, and gone from /channels
      assert.deepEqual(await json(sdk.get({ path: `/channels/${lobby}` })), { occupied: false });
      assert.deepEqual(await json(sdk.get({ path: '/channels' })), { channels: { [room]: {} } });
    });

    it('unoccupied channel → {"occupied":false}', { timeout: 10000 }, async () => {
      assert.deepEqual(await json(env.sdk().get({ path: `/channels/${uniq('nobody-')}` })), { occupied: false });
    });

    it('documented 400s: /users on a non-presence channel, user_count without presence- filter or on a public channel', { timeout: 10000 }, async () => {
      const sdk = env.sdk();
      const c = await env.client();
      const name = uniq('public-q-');
      await subscribe(c, name);
      assert.equal((await sdkError(sdk.get({ path: `/channels/${name}/users` }))).status, 400);
      assert.equal((await sdkError(sdk.get({ path: '/channels', params: { info: 'user_count' } }))).status, 400);
      assert.equal((await sdkError(sdk.get({ path: `/channels/${name}`, params: { info: 'user_count' } }))).status, 400);
    });

    it('trigger with info returns per-channel attributes', { timeout: 10000 }, async () => {
      const sdk = env.sdk();
      const room = uniq('presence-info-');
      const pub = uniq('public-info-');
      const a = await env.client({ user: { id: 'u1', info: {} } });
      await subscribe(a, room);
      await subscribe(a, pub);
      assert.deepEqual(await json(sdk.trigger(room, 'ev', {}, { info: 'user_count' })), { channels: { [room]: { user_count: 1 } } });
      assert.deepEqual(await json(sdk.trigger(pub, 'ev', {}, { info: 'subscription_count' })), { channels: { [pub]: { subscription_count: 1 } } });
    });

    it('GET signed with body_md5 of the empty body (pusher-http-python style) is accepted', { timeout: 10000 }, async () => {
      const r = await rawRequest(env.port, { method: 'GET', path: '/apps/1/channels', bodyMd5: md5('') });
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(Object.keys(JSON.parse(r.text)), ['channels']);
    });
  });

  describe('errors', () => {
    const body = JSON.stringify({ name: 'ev', channels: ['errs'], data: '{"a":1}' });

    it('correctly signed raw request succeeds (control)', { timeout: 10000 }, async () => {
      const r = await rawRequest(env.port, { method: 'POST', path: '/apps/1/events', body });
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(JSON.parse(r.text), {});
    });

    it('wrong signature → 401', { timeout: 10000 }, async () => {
      const r = await rawRequest(env.port, { method: 'POST', path: '/apps/1/events', body, secret: 'not-the-secret' });
      assert.equal(r.status, 401, r.text);
      // and through the SDK with a wrong secret
      assert.equal((await sdkError(env.badSdk().trigger('errs', 'ev', { a: 1 }))).status, 401);
      assert.equal((await sdkError(env.badSdk().get({ path: '/channels' }))).status, 401);
    });

    it('body not matching body_md5 → 401', { timeout: 10000 }, async () => {
      const tampered = JSON.stringify({ name: 'ev', channels: ['errs'], data: '{"a":2}' });
      const r = await rawRequest(env.port, { method: 'POST', path: '/apps/1/events', body, sendBody: tampered });
      assert.equal(r.status, 401, r.text);
    });

    it('auth_timestamp outside the documented 600 s window → 401', { timeout: 10000 }, async () => {
      const r = await rawRequest(env.port, { method: 'POST', path: '/apps/1/events', body, timestamp: Math.floor(Date.now() / 1000) - 3600 });
      assert.equal(r.status, 401, r.text);
    });

    it('key of another app → 401', { timeout: 10000 }, async () => {
      const r = await rawRequest(env.port, { method: 'POST', path: '/apps/1/events', body, key: QUERY_APP.key, secret: QUERY_APP.secret });
      assert.equal(r.status, 401, r.text);
    });

    it('unknown app id → 404 or 401 (Pusher documents only 401 for auth errors)', { timeout: 10000 }, async (t) => {
      const r = await rawRequest(env.port, { method: 'POST', path: '/apps/999/events', body });
      assert.ok([401, 404].includes(r.status), `status ${r.status}: ${r.text}`);
      t.diagnostic(`unknown app id answered ${r.status}`);
      const sdk = new PusherSDK({ appId: '999', key: DEFAULT_APP.key, secret: DEFAULT_APP.secret, host: HOST, port: String(env.port), useTLS: false, timeout: 5000 });
      const e = await sdkError(sdk.get({ path: '/channels' }));
      assert.equal(e.status, r.status);
    });

    it('event data > 10 KB → SDK rejects with status 413; exactly 10240 bytes is accepted', { timeout: 10000 }, async () => {
      const sdk = env.sdk();
      const e = await sdkError(sdk.trigger('errs', 'big', 'x'.repeat(10241)));
      assert.equal(e.status, 413);
      const ok = await sdk.trigger('errs', 'big', 'x'.repeat(10240));
      assert.equal(ok.status, 200);
      const eb = await sdkError(sdk.triggerBatch([{ channel: 'errs', name: 'big', data: 'x'.repeat(10241) }]));
      assert.equal(eb.status, 413);
    });

    it('batch of 11 events (limit 10) is rejected with 400 or 413, and nothing is delivered', { timeout: 10000 }, async (t) => {
      const c = await env.client();
      const name = uniq('toomany-');
      const { channel } = await subscribe(c, name);
      const got = [];
      channel.bind('ev', (d) => got.push(d));
      const batch = Array.from({ length: 11 }, (_, i) => ({ channel: name, name: 'ev', data: { i } }));
      const e = await sdkError(env.sdk().triggerBatch(batch));
      assert.ok([400, 413].includes(e.status), `status ${e.status}`);
      t.diagnostic(`oversized batch answered ${e.status}`);
      await sleep(300);
      assert.equal(got.length, 0);
    });

    it('malformed JSON body → 400', { timeout: 10000 }, async () => {
      const bad = '{"name":"ev",';
      const r = await rawRequest(env.port, { method: 'POST', path: '/apps/1/events', body: bad });
      assert.equal(r.status, 400, r.text);
    });
  });
});
