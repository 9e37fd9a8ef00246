'use strict';
// Cases 5 and 6 (presence part): presence membership as pusher-js sees it,
// multi-socket users, and client events carrying user_id metadata.
const { describe, it, before, after, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const { createEnv, subscribe, nextEvent, record, recordMessages, sleep, uniq, until } = require('./helpers');

const ALICE = { id: 'alice', info: { name: 'Alice', color: 'red' } };
const BOB = { id: 'bob', info: { name: 'Bob' } };
const CAROL = { id: 'carol', info: { name: 'Carol', tags: ['x', 'y'] } };
const DAVE = { id: 'dave', info: { name: 'Dave' } };
const OLIVE = { id: 'olive', info: { name: 'Olive' } };

function membersOf(channel) {
  const out = {};
  channel.members.each((m) => {
    out[m.id] = m.info;
  });
  return out;
}

describe('presence channels', { timeout: 120000 }, () => {
  let env;
  before(async () => {
    env = await createEnv({ name: 'presence' });
  });
  after(async () => env && env.close());
  afterEach(async () => {
    env.assertAlive();
    await env.disconnectAll();
  });

  it('A and B see each other (count, me, member_added/removed); C sees both', { timeout: 20000 }, async () => {
    const room = uniq('presence-room-');
    const a = await env.client({ user: ALICE });
    const { channel: chA, data: membersA } = await subscribe(a, room);
    assert.equal(membersA, chA.members, 'presence subscription_succeeded passes the Members object');
    assert.equal(chA.members.count, 1);
    assert.deepEqual(chA.members.me, { id: 'alice', info: ALICE.info });
    assert.deepEqual(membersOf(chA), { alice: ALICE.info });

    const addedA = record(chA, 'pusher:member_added');
    const removedA = record(chA, 'pusher:member_removed');

    const b = await env.client({ user: BOB });
    const recB = recordMessages(b);
    const { channel: chB } = await subscribe(b, room);
    const addedB = record(chB, 'pusher:member_added');
    const removedB = record(chB, 'pusher:member_removed');
    assert.equal(chB.members.count, 2);
    assert.deepEqual(chB.members.me, { id: 'bob', info: BOB.info });
    assert.deepEqual(membersOf(chB), { alice: ALICE.info, bob: BOB.info });

    // raw subscription_succeeded payload shape (protocol: data.presence.{ids,hash,count})
    const ok = recB.messages.find((m) => m.event === 'pusher_internal:subscription_succeeded');
    assert.equal(ok.channel, room);
    assert.equal(ok.data.presence.count, 2);
    assert.deepEqual([...ok.data.presence.ids].sort(), ['alice', 'bob']);
    assert.deepEqual(ok.data.presence.hash, { alice: ALICE.info, bob: BOB.info });
    // the joining socket does not get member_added for itself
    assert.ok(!recB.messages.some((m) => m.event === 'pusher_internal:member_added'), 'B got member_added for itself');
    recB.stop();

    await addedA.waitForCount(1);
    assert.deepEqual(addedA.events[0].data, { id: 'bob', info: BOB.info });
    assert.equal(chA.members.count, 2);

    const c = await env.client({ user: CAROL });
    const { channel: chC } = await subscribe(c, room);
    assert.equal(chC.members.count, 3);
    assert.deepEqual(membersOf(chC), { alice: ALICE.info, bob: BOB.info, carol: CAROL.info });
    await addedA.waitForCount(2);
    await addedB.waitForCount(1);
    assert.deepEqual(addedA.events[1].data, { id: 'carol', info: CAROL.info });
    assert.deepEqual(addedB.events[0].data, { id: 'carol', info: CAROL.info });

    // B leaves (disconnect): A and C get member_removed for bob
    const removedC = record(chC, 'pusher:member_removed');
    b.disconnect();
    await removedA.waitForCount(1);
    await removedC.waitForCount(1);
    assert.deepEqual(removedA.events[0].data, { id: 'bob', info: BOB.info });
    assert.deepEqual(removedC.events[0].data, { id: 'bob', info: BOB.info });
    assert.equal(chA.members.count, 2);
    assert.equal(chC.members.count, 2);

    // C leaves by unsubscribing (socket stays open)
    c.unsubscribe(room);
    await removedA.waitForCount(2);
    assert.deepEqual(removedA.events[1].data, { id: 'carol', info: CAROL.info });
    assert.equal(chA.members.count, 1);
    await sleep(200);
    assert.equal(removedB.events.length, 0);
  });

  it('the same user on two sockets counts once; member_removed only when the last socket leaves', { timeout: 20000 }, async () => {
    const room = uniq('presence-multi-');
    const o = await env.client({ user: OLIVE });
    const { channel: chO } = await subscribe(o, room);
    const added = record(chO, 'pusher:member_added');
    const removed = record(chO, 'pusher:member_removed');
    const rawO = recordMessages(o);

    const d1 = await env.client({ user: DAVE });
    const { channel: ch1 } = await subscribe(d1, room);
    assert.equal(ch1.members.count, 2);
    await added.waitForCount(1);
    assert.deepEqual(added.events[0].data, { id: 'dave', info: DAVE.info });

    const d2 = await env.client({ user: DAVE });
    const { channel: ch2 } = await subscribe(d2, room);
    assert.equal(ch2.members.count, 2, 'second socket of dave sees 2 distinct users');
    assert.deepEqual(membersOf(ch2), { olive: OLIVE.info, dave: DAVE.info });

    // barrier: an event after the join; by then any member_added would have arrived
    const barrier = nextEvent(chO, 'barrier');
    await env.sdk().trigger(room, 'barrier', {});
    await barrier;
    assert.equal(added.events.length, 1, 'no second member_added for the same user');
    assert.equal(rawO.messages.filter((m) => m.event === 'pusher_internal:member_added').length, 1);
    assert.equal(chO.members.count, 2);

    d1.disconnect();
    await sleep(300);
    const barrier2 = nextEvent(chO, 'barrier');
    await env.sdk().trigger(room, 'barrier', {});
    await barrier2;
    assert.equal(removed.events.length, 0, 'member_removed fired while dave still has a socket');
    assert.equal(rawO.messages.filter((m) => m.event === 'pusher_internal:member_removed').length, 0);

    d2.unsubscribe(room);
    await removed.waitForCount(1);
    assert.deepEqual(removed.events[0].data, { id: 'dave', info: DAVE.info });
    assert.equal(chO.members.count, 1);
    rawO.stop();
  });

  it('presence client event carries the sender user_id in metadata; sender does not get it', { timeout: 15000 }, async () => {
    const room = uniq('presence-chat-');
    const a = await env.client({ user: ALICE });
    const b = await env.client({ user: BOB });
    const { channel: chA } = await subscribe(a, room);
    const { channel: chB } = await subscribe(b, room);
    const recA = record(chA, 'client-typing');
    const recB = record(chB, 'client-typing');

    chA.trigger('client-typing', { typing: true });
    await recB.waitForCount(1);
    assert.deepEqual(recB.events[0].data, { typing: true });
    assert.deepEqual(recB.events[0].meta, { user_id: 'alice' });

    chB.trigger('client-typing', { typing: false });
    await recA.waitForCount(1);
    assert.deepEqual(recA.events[0].data, { typing: false });
    assert.equal(recA.events[0].meta.user_id, 'bob');
    await sleep(100);
    assert.equal(recA.events.length, 1, 'alice must not receive her own event');
    assert.equal(recB.events.length, 1, 'bob must not receive his own event');
  });

  it('numeric user_id in channel_data works (pusher-http-node test vectors use a number)', { timeout: 15000 }, async () => {
    const room = uniq('presence-num-');
    const a = await env.client({ user: { id: 10, info: { name: 'Mr. Channels' } } });
    const { channel: chA } = await subscribe(a, room);
    assert.equal(chA.members.count, 1);
    assert.deepEqual(chA.members.get('10'), { id: '10', info: { name: 'Mr. Channels' } });
    const b = await env.client({ user: BOB });
    const addedB = record(a.channel(room), 'pusher:member_added');
    const { channel: chB } = await subscribe(b, room);
    assert.equal(chB.members.count, 2);
    assert.deepEqual(chB.members.get('10'), { id: '10', info: { name: 'Mr. Channels' } });
    await addedB.waitForCount(1);
    const removed = record(chB, 'pusher:member_removed');
    a.disconnect();
    await removed.waitForCount(1);
    assert.equal(String(removed.events[0].data.id), '10');
    assert.equal(chB.members.count, 1);
  });
});
