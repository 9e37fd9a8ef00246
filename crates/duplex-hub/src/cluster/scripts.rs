//! The cluster state in Redis: key names and the Lua scripts that change
//! it atomically.
//!
//! Keys (`P` is the configured prefix):
//!
//! | key | type | holds |
//! |---|---|---|
//! | `P:nodes` | sorted set | node id → its last heartbeat (Redis clock, ms) |
//! | `P:bus` | pub/sub channel | [`BusMessage`](super::bus::BusMessage)s |
//! | `P:app:A:channels` | hash | occupied channel → subscriptions, cluster-wide |
//! | `P:app:A:users:C` | hash | presence user → sockets, cluster-wide |
//! | `P:app:A:info:C` | hash | presence user → `user_info` JSON (`""`: none) |
//! | `P:app:A:cache:C` | string, 30 min TTL | cache channel's last event |
//! | `P:node:N:subs` | hash | `A\nC` → node N's subscriptions |
//! | `P:node:N:pres` | hash | `A\nC\nuser` → node N's sockets of the user |
//! | `P:conns` | hash | app → connections, cluster-wide (for app quotas) |
//! | `P:node:N:conns` | hash | app → node N's connections |
//!
//! The cluster-wide hashes are sums of the nodes' ledgers (`P:node:N:*`).
//! Every change goes through a script that updates a ledger and the sums
//! together and reports the transitions (occupied, vacated, first member,
//! last member) — so exactly one node sees each and sends its event and
//! webhook. A dead node's ledger is subtracted by whichever node reaps it
//! first; a node that lost its ledger (Redis restarted, or it was reaped
//! while cut off) replaces it with its local truth, in one script, which
//! reports only what changed.

use redis::Value;

use duplex_pusher::presence::Members;

/// Key names, from the prefix.
#[derive(Debug, Clone)]
pub(crate) struct Keys {
    prefix: String,
}

impl Keys {
    pub fn new(prefix: &str) -> Self {
        Keys {
            prefix: prefix.to_string(),
        }
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    pub fn nodes(&self) -> String {
        format!("{}:nodes", self.prefix)
    }

    pub fn bus(&self) -> String {
        format!("{}:bus", self.prefix)
    }

    pub fn channels(&self, app: &str) -> String {
        format!("{}:app:{app}:channels", self.prefix)
    }

    pub fn users(&self, app: &str, channel: &str) -> String {
        format!("{}:app:{app}:users:{channel}", self.prefix)
    }

    pub fn info(&self, app: &str, channel: &str) -> String {
        format!("{}:app:{app}:info:{channel}", self.prefix)
    }

    pub fn cache(&self, app: &str, channel: &str) -> String {
        format!("{}:app:{app}:cache:{channel}", self.prefix)
    }

    pub fn node_subs(&self, node: &str) -> String {
        format!("{}:node:{node}:subs", self.prefix)
    }

    pub fn node_pres(&self, node: &str) -> String {
        format!("{}:node:{node}:pres", self.prefix)
    }

    pub fn connections(&self) -> String {
        format!("{}:conns", self.prefix)
    }

    pub fn node_connections(&self, node: &str) -> String {
        format!("{}:node:{node}:conns", self.prefix)
    }
}

/// A node ledger's field for a channel.
pub(crate) fn channel_field(app: &str, channel: &str) -> String {
    format!("{app}\n{channel}")
}

/// A node ledger's field for a presence user (app ids and channel names
/// cannot hold a newline; the user id comes last and may).
pub(crate) fn user_field(app: &str, channel: &str, user: &str) -> String {
    format!("{app}\n{channel}\n{user}")
}

/// Registers a heartbeat; returns 1 if the node was registered already.
pub(crate) const HEARTBEAT: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local known = redis.call('ZSCORE', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[1], now, ARGV[1])
if known then return 1 else return 0 end
";

/// A connection to an app, against the app's quota cluster-wide.
///
/// KEYS: connections (app → total), node connections. ARGV: app, max.
/// Returns 1 if admitted (and counted), 0 if the app is at its quota.
pub(crate) const CONNECT: &str = r"
local total = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
if total >= tonumber(ARGV[2]) then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], math.max(total, 0) + 1)
redis.call('HINCRBY', KEYS[2], ARGV[1], 1)
return 1
";

/// A connection to an app ended. KEYS and ARGV as [`CONNECT`].
pub(crate) const DISCONNECT: &str = r"
for _, key in ipairs(KEYS) do
  local n = tonumber(redis.call('HGET', key, ARGV[1]) or '0')
  if n <= 1 then redis.call('HDEL', key, ARGV[1]) else redis.call('HSET', key, ARGV[1], n - 1) end
end
return 1
";

/// A socket joins a channel.
///
/// KEYS: channels, node subs, users, info, node pres, cache.
/// ARGV: channel, channel field, presence ('1'/'0'), user, info, max
/// members, user field, want members ('1'/'0'), want cache ('1'/'0').
/// Returns `{-1}` when the presence channel is full, else
/// `{occupied, first member, members (flat id/info pairs), cached or nil}`.
pub(crate) const SUBSCRIBE: &str = r"
local first = 0
if ARGV[3] == '1' then
  local n = tonumber(redis.call('HGET', KEYS[3], ARGV[4]) or '0')
  if n <= 0 and redis.call('HLEN', KEYS[3]) >= tonumber(ARGV[6]) then
    return {-1}
  end
  redis.call('HSET', KEYS[3], ARGV[4], math.max(n, 0) + 1)
  if n <= 0 then
    redis.call('HSET', KEYS[4], ARGV[4], ARGV[5])
    first = 1
  end
  redis.call('HINCRBY', KEYS[5], ARGV[7], 1)
end
local before = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
redis.call('HSET', KEYS[1], ARGV[1], math.max(before, 0) + 1)
redis.call('HINCRBY', KEYS[2], ARGV[2], 1)
local members = {}
if ARGV[8] == '1' then members = redis.call('HGETALL', KEYS[4]) end
local cached = false
if ARGV[9] == '1' then cached = redis.call('GET', KEYS[6]) end
return {before <= 0 and 1 or 0, first, members, cached}
";

/// A socket leaves a channel. Counts never go below zero: a count Redis
/// does not have (it restarted) is no transition.
///
/// KEYS: channels, node subs, users, info, node pres.
/// ARGV: channel, channel field, presence ('1'/'0'), user, user field.
/// Returns `{vacated, last member}`.
pub(crate) const UNSUBSCRIBE: &str = r"
local function decrement(key, field)
  local n = tonumber(redis.call('HGET', key, field) or '0')
  if n <= 1 then
    redis.call('HDEL', key, field)
  else
    redis.call('HSET', key, field, n - 1)
  end
  return n
end
local last = 0
if ARGV[3] == '1' then
  if decrement(KEYS[3], ARGV[4]) == 1 then
    redis.call('HDEL', KEYS[4], ARGV[4])
    last = 1
  end
  decrement(KEYS[5], ARGV[5])
end
local vacated = 0
if decrement(KEYS[1], ARGV[1]) == 1 then vacated = 1 end
decrement(KEYS[2], ARGV[2])
return {vacated, last}
";

/// Replaces a node's ledger, adjusting the cluster-wide sums, and reports
/// the transitions. Mode `resync` replaces node ARGV[3]'s ledger with the
/// records in ARGV[4..] (`c`, channel field, count | `p`, user field,
/// count, info). Mode `reap` picks one node whose heartbeat is older than
/// ARGV[3] ms, unregisters it and empties its ledger (returns nil when
/// there is none).
///
/// Returns `{node, {kind, app, channel, user, info, …}}` with kinds `o`
/// (occupied), `v` (vacated), `a` (member added), `r` (member removed).
pub(crate) const SET_LEDGER: &str = r"
local P = ARGV[1]
local node
if ARGV[2] == 'reap' then
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  local dead = redis.call('ZRANGEBYSCORE', P .. ':nodes', '-inf', now - tonumber(ARGV[3]), 'LIMIT', 0, 1)
  if #dead == 0 then return false end
  node = dead[1]
  redis.call('ZREM', P .. ':nodes', node)
else
  node = ARGV[3]
end
local subs_key = P .. ':node:' .. node .. ':subs'
local pres_key = P .. ':node:' .. node .. ':pres'
local conns_key = P .. ':node:' .. node .. ':conns'
local want_c, want_p, want_n, infos = {}, {}, {}, {}
local i = 4
while i <= #ARGV do
  if ARGV[i] == 'c' then
    want_c[ARGV[i + 1]] = tonumber(ARGV[i + 2])
    i = i + 3
  elseif ARGV[i] == 'n' then
    want_n[ARGV[i + 1]] = tonumber(ARGV[i + 2])
    i = i + 3
  else
    want_p[ARGV[i + 1]] = tonumber(ARGV[i + 2])
    infos[ARGV[i + 1]] = ARGV[i + 3]
    i = i + 4
  end
end
local function ledger(key)
  local flat = redis.call('HGETALL', key)
  local map = {}
  for j = 1, #flat, 2 do map[flat[j]] = tonumber(flat[j + 1]) end
  return map
end
local function split(field)
  local parts, start = {}, 1
  for _ = 1, 2 do
    local nl = string.find(field, '\n', start, true)
    if not nl then break end
    table.insert(parts, string.sub(field, start, nl - 1))
    start = nl + 1
  end
  table.insert(parts, string.sub(field, start))
  return parts
end
local events = {}
local function event(kind, app, channel, user, info)
  for _, v in ipairs({kind, app, channel, user or '', info or ''}) do table.insert(events, v) end
end
local function each_delta(old, want, apply)
  for field, n in pairs(old) do
    local d = (want[field] or 0) - n
    if d ~= 0 then apply(field, d) end
  end
  for field, n in pairs(want) do
    if old[field] == nil and n ~= 0 then apply(field, n) end
  end
end
local function adjust(key, field, d)
  local before = tonumber(redis.call('HGET', key, field) or '0')
  if before < 0 then before = 0 end
  local after = before + d
  if after <= 0 then redis.call('HDEL', key, field) else redis.call('HSET', key, field, after) end
  return before, after
end
each_delta(ledger(subs_key), want_c, function(field, d)
  local p = split(field)
  local before, after = adjust(P .. ':app:' .. p[1] .. ':channels', p[2], d)
  if before <= 0 and after > 0 then event('o', p[1], p[2]) end
  if before > 0 and after <= 0 then event('v', p[1], p[2]) end
end)
each_delta(ledger(pres_key), want_p, function(field, d)
  local p = split(field)
  local info_key = P .. ':app:' .. p[1] .. ':info:' .. p[2]
  local before, after = adjust(P .. ':app:' .. p[1] .. ':users:' .. p[2], p[3], d)
  if before <= 0 and after > 0 then
    redis.call('HSET', info_key, p[3], infos[field] or '')
    event('a', p[1], p[2], p[3], infos[field] or '')
  end
  if before > 0 and after <= 0 then
    redis.call('HDEL', info_key, p[3])
    event('r', p[1], p[2], p[3])
  end
end)
each_delta(ledger(conns_key), want_n, function(field, d)
  adjust(P .. ':conns', field, d)
end)
redis.call('DEL', subs_key, pres_key, conns_key)
for field, n in pairs(want_n) do
  if n > 0 then redis.call('HSET', conns_key, field, n) end
end
for field, n in pairs(want_c) do
  if n > 0 then redis.call('HSET', subs_key, field, n) end
end
for field, n in pairs(want_p) do
  if n > 0 then redis.call('HSET', pres_key, field, n) end
end
return {node, events}
";

/// A transition reported by [`SET_LEDGER`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Transition {
    /// The channel became occupied.
    Occupied { app: String, channel: String },
    /// The channel became vacant.
    Vacated { app: String, channel: String },
    /// A user became a member.
    MemberAdded {
        app: String,
        channel: String,
        user: String,
        info: String,
    },
    /// A user stopped being a member.
    MemberRemoved {
        app: String,
        channel: String,
        user: String,
    },
}

/// What [`SUBSCRIBE`] answered.
#[derive(Debug)]
pub(crate) enum Subscribed {
    /// The presence channel is full.
    Full,
    /// Joined.
    Joined {
        occupied: bool,
        first_member: bool,
        members: Members,
        cached: Option<String>,
    },
}

/// Why a script's reply could not be read (a bug, or a foreign key).
#[derive(Debug, thiserror::Error)]
#[error("unexpected reply from a cluster script: {0}")]
pub(crate) struct ReplyError(&'static str);

pub(crate) fn parse_subscribed(value: Value) -> Result<Subscribed, ReplyError> {
    let items = array(value)?;
    match items.as_slice() {
        [Value::Int(-1)] => Ok(Subscribed::Full),
        [occupied, first, members, cached] => Ok(Subscribed::Joined {
            occupied: int(occupied)? == 1,
            first_member: int(first)? == 1,
            members: parse_members(members.clone())?,
            cached: match cached {
                Value::Nil => None,
                other => Some(string(other)?),
            },
        }),
        _ => Err(ReplyError("SUBSCRIBE reply")),
    }
}

pub(crate) fn parse_unsubscribed(value: Value) -> Result<(bool, bool), ReplyError> {
    match array(value)?.as_slice() {
        [vacated, last] => Ok((int(vacated)? == 1, int(last)? == 1)),
        _ => Err(ReplyError("UNSUBSCRIBE reply")),
    }
}

/// Reads `HGETALL` of an info hash as a member list.
pub(crate) fn parse_members(value: Value) -> Result<Members, ReplyError> {
    let flat = match value {
        Value::Map(pairs) => pairs.into_iter().flat_map(|(k, v)| [k, v]).collect(),
        other => array(other)?,
    };
    let mut members = Members::new();
    for pair in flat.chunks(2) {
        let [id, info] = pair else {
            return Err(ReplyError("odd member list"));
        };
        members.insert(&string(id)?, parse_info(&string(info)?));
    }
    Ok(members)
}

/// A stored `user_info` (`""`: none).
pub(crate) fn parse_info(info: &str) -> Option<Box<serde_json::value::RawValue>> {
    (!info.is_empty())
        .then(|| serde_json::value::RawValue::from_string(info.to_string()).ok())
        .flatten()
}

/// Reads a [`SET_LEDGER`] reply: `None` when no node was reaped.
pub(crate) fn parse_ledger(value: Value) -> Result<Option<(String, Vec<Transition>)>, ReplyError> {
    if value == Value::Nil {
        return Ok(None);
    }
    let items = array(value)?;
    let [node, events] = items.as_slice() else {
        return Err(ReplyError("SET_LEDGER reply"));
    };
    let events = array(events.clone())?;
    let mut transitions = Vec::with_capacity(events.len() / 5);
    for chunk in events.chunks(5) {
        let [kind, app, channel, user, info] = chunk else {
            return Err(ReplyError("SET_LEDGER event"));
        };
        let (app, channel, user, info) =
            (string(app)?, string(channel)?, string(user)?, string(info)?);
        transitions.push(match string(kind)?.as_str() {
            "o" => Transition::Occupied { app, channel },
            "v" => Transition::Vacated { app, channel },
            "a" => Transition::MemberAdded {
                app,
                channel,
                user,
                info,
            },
            "r" => Transition::MemberRemoved { app, channel, user },
            _ => return Err(ReplyError("SET_LEDGER event kind")),
        });
    }
    Ok(Some((string(node)?, transitions)))
}

fn array(value: Value) -> Result<Vec<Value>, ReplyError> {
    match value {
        Value::Array(items) => Ok(items),
        _ => Err(ReplyError("expected an array")),
    }
}

fn int(value: &Value) -> Result<i64, ReplyError> {
    match value {
        Value::Int(n) => Ok(*n),
        _ => Err(ReplyError("expected an integer")),
    }
}

fn string(value: &Value) -> Result<String, ReplyError> {
    match value {
        Value::BulkString(bytes) => {
            String::from_utf8(bytes.clone()).map_err(|_| ReplyError("not UTF-8"))
        }
        Value::SimpleString(s) => Ok(s.clone()),
        _ => Err(ReplyError("expected a string")),
    }
}
