/**
 * The server-side scripts. Each runs on one session's keys (one slot), in this `KEYS` order:
 * session, names, variables, order, log, history, ending, blobs. `ARGV[1]` is the time in epoch
 * milliseconds, `ARGV[2]` how long an ended session's reason is remembered, `ARGV[3]` the epoch
 * the caller expects ('' for any). Replies start with a status word.
 *
 * Change-log entries (`XADD <revision>-0`) hold `p` (the previous entry's revision, so a
 * reader can tell it missed one), `g` (the epoch), `src`, `ts`, `n`, and `x`: per change a line
 * `kind|version|id|headerLength|metadataLength|oldLength|newLength\n` followed by those four
 * strings. Values are stored tagged: `v` and the bytes inline, or, from 64 KiB on,
 * `b<length>:<field>` naming a field of the blobs hash that the caller wrote beforehand with a
 * plain HSET, so that a script never holds a large value (Lua copies every string it
 * touches: an 8 MB value in a script costs tens of milliseconds of Redis's time, a plain HSET
 * a few). A blob is dropped when the log entry that replaced it leaves the history.
 */
const PRELUDE = `
local S, N, V, O, L, H, E, B = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8]
local now, grace, wanted = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
local function slide(ttl)
  redis.call('HSET', S, 'accessed', now)
  for i = 1, 6 do redis.call('PEXPIRE', KEYS[i], ttl) end
  redis.call('PEXPIRE', B, ttl)
  redis.call('PEXPIRE', E, ttl + grace)
end
-- Slides the TTL only once it has run down by its slack (a tenth, at most a minute; PTTL is
-- Redis's clock, so servers' clocks do not matter). Otherwise the keys in 'fresh', which this
-- call may have created without a TTL, get the session hash's expiry: no key outlives it.
local function renew(ttl, fresh)
  local remaining = redis.call('PTTL', S)
  if remaining < ttl - math.min(math.floor(ttl / 10), 60000) then
    slide(ttl)
    return true
  end
  for _, key in ipairs(fresh) do redis.call('PEXPIRE', key, remaining) end
  return false
end
local function size(stored)
  if not stored or stored == '' then return 0 end
  if string.sub(stored, 1, 1) == 'b' then return tonumber(string.match(stored, '^b(%d+):')) end
  return #stored - 1
end
local function blob(stored)
  if stored and string.sub(stored, 1, 1) == 'b' then return string.match(stored, '^b%d+:(.*)$') end
  return nil
end
local function free(fields)
  for field in string.gmatch(fields or '', '[^,]+') do redis.call('HDEL', B, field) end
end
local function gone() return {'gone', redis.call('GET', E) or ''} end
-- Names of an id's shape are refused, so an identifier of that shape is an id, and any other a name.
local ID = '^var_' .. string.rep('[0-9a-f]', 24) .. '$'
local function resolve(identifier)
  if string.find(identifier, ID) then return identifier end
  return redis.call('HGET', N, identifier)
end
-- Counts a new entry of 'bytes' in the history ledger and drops the oldest entries past the
-- history's size or bytes. Blobs an entry replaced are dropped when it leaves the history; the
-- newest entry's wait for the next write ('defer'), so that live readers can still fetch them.
-- Returns the session fields to set, the revision below which the log is to be trimmed (nil
-- for none), and whether it created the history list (it was empty, so Redis had deleted it).
local function trim(rev, bytes, size, limit, replaced, deferred, held)
  free(deferred)
  local length = redis.call('RPUSH', H, rev .. ':' .. bytes .. ':' .. replaced)
  local created = length == 1
  held = tonumber(held) + bytes
  local defer, dropped = '', nil
  while length > 0 and (length > size or held > limit) do
    local r, b, fields = string.match(redis.call('LPOP', H), '^(%d+):(%d+):(.*)$')
    if tonumber(r) == rev then defer = fields else free(fields) end
    held = held - tonumber(b)
    length = length - 1
    dropped = tonumber(r)
  end
  local fields = {'rev', rev, 'last', rev, 'defer', defer, 'hbytes', held}
  if not dropped then return fields, nil, created end
  table.insert(fields, 'base')
  table.insert(fields, dropped)
  -- The newest entry stays in the stream for live readers even when the history dropped it.
  return fields, math.min(dropped + 1, rev), created
end
-- Appends a log entry, trimming the log below revision 'keep' (nil: no trimming) in the same call.
local function append(keep, ...)
  if keep then return redis.call('XADD', L, 'MINID', keep .. '-0', ...) end
  return redis.call('XADD', L, ...)
end
local function change(parts, kind, version, id, header, metadata, old, new)
  table.insert(parts, kind .. '|' .. version .. '|' .. id .. '|' .. #header .. '|' .. #metadata .. '|' .. #old .. '|' .. #new .. '\\n')
  table.insert(parts, header)
  table.insert(parts, metadata)
  table.insert(parts, old)
  table.insert(parts, new)
  return size(old) + size(new) + #metadata + 256
end
`;

/** Session fields every reply about a session carries, after its status word. */
const SESSION_FIELDS = `'epoch', 'rev', 'created', 'ttl', 'meta', 'count', 'base'`;

/**
 * Reads a session and, by `ARGV[4]`: 'none', 'ids' (identifiers in `ARGV[5..]`, each a name or
 * an id) or 'all' (creation order). These renew the TTL once it has run down by its slack;
 * 'touch' (a heartbeat) always slides it; 'peek' never does.
 */
export const READ = `${PRELUDE}
local s = redis.call('HMGET', S, ${SESSION_FIELDS}, 'accessed')
if not s[1] then return gone() end
if wanted ~= '' and wanted ~= s[1] then return {'epoch', s[1]} end
local mode = ARGV[4]
local accessed = s[8] or tostring(now)
if mode == 'touch' then
  slide(tonumber(s[4]))
  accessed = tostring(now)
elseif mode ~= 'peek' and renew(tonumber(s[4]), {}) then
  accessed = tostring(now)
end
local out = {'ok', s[1], s[2], s[3], accessed, s[4], s[5], s[6], s[7]}
local function push(id, f)
  table.insert(out, id)
  for i = 1, 6 do table.insert(out, f[i]) end
end
local function fields(id)
  return redis.call('HMGET', V, id .. ':h', id .. ':m', id .. ':e', id .. ':t', id .. ':s', id .. ':d')
end
if mode == 'ids' then
  for i = 5, #ARGV do
    local id = resolve(ARGV[i])
    local f = id and fields(id)
    if f and f[1] then push(id, f) else
      for j = 1, 7 do table.insert(out, '') end
    end
  end
elseif mode == 'all' then
  for _, id in ipairs(redis.call('ZRANGE', O, 0, -1)) do push(id, fields(id)) end
end
return out
`;

/**
 * Gets a session or creates it: `ARGV[4]` the new epoch, `ARGV[5]` its TTL in ms, `ARGV[6]` its
 * metadata, `ARGV[7]` '1' to create when absent ('0' answers 'absent').
 */
export const INITIALIZE = `${PRELUDE}
local s = redis.call('HMGET', S, ${SESSION_FIELDS})
if s[1] then
  slide(tonumber(s[4]))
  return {'existing', s[1], s[2], s[3], tostring(now), s[4], s[5], s[6], s[7]}
end
if ARGV[7] ~= '1' then return {'absent'} end
redis.call('DEL', N, V, O, L, H, B)
redis.call('HSET', S, 'epoch', ARGV[4], 'rev', 0, 'created', now, 'ttl', ARGV[5], 'meta', ARGV[6],
  'count', 0, 'hbytes', 0, 'base', 0, 'last', 0, 'seq', 0)
redis.call('SET', E, 'expired')
slide(tonumber(ARGV[5]))
return {'created', ARGV[4], '0', tostring(now), tostring(now), ARGV[5], ARGV[6], '0', '0'}
`;

/**
 * Registers a variable: `ARGV[4]` id, `[5]` name, `[6]` header, `[7]` metadata, `[8]` source,
 * `[9]` value, `[10]` most variables, `[11]` the value's bytes, `[12]` most value bytes,
 * `[13]` the creation time (the header's).
 */
export const REGISTER = `${PRELUDE}
local s = redis.call('HMGET', S, 'epoch', 'ttl', 'count')
if not s[1] then return gone() end
if wanted ~= '' and wanted ~= s[1] then return {'epoch', s[1]} end
if redis.call('HEXISTS', N, ARGV[5]) == 1 then return {'exists'} end
if tonumber(ARGV[11]) > tonumber(ARGV[12]) then return {'too_large'} end
if tonumber(s[3]) >= tonumber(ARGV[10]) then return {'full', s[3]} end
local id = ARGV[4]
if redis.call('HEXISTS', V, id .. ':h') == 1 then return {'id_taken'} end
local rev = redis.call('HINCRBY', S, 'rev', 1)
redis.call('HSET', N, ARGV[5], id)
redis.call('HSET', V, id .. ':h', ARGV[6], id .. ':m', ARGV[7], id .. ':e', 0, id .. ':t', ARGV[13],
  id .. ':s', ARGV[8], id .. ':d', ARGV[9])
redis.call('ZADD', O, redis.call('HINCRBY', S, 'seq', 1), id)
redis.call('HINCRBY', S, 'count', 1)
slide(tonumber(s[2]))
return {'ok', rev, s[1]}
`;

/**
 * Writes values, all or nothing, as one revision: `ARGV[4]` source, `[5]` history size,
 * `[6]` history bytes, `[7]` most value bytes, `[8]` the number of updates, then per update
 * id, expectation ('' none, 'u' the caller's expected version, 'i' the version it read),
 * version, metadata ('' unchanged, or '=' and the new JSON), value, value bytes.
 */
export const WRITE = `${PRELUDE}
local s = redis.call('HMGET', S, 'epoch', 'ttl', 'rev', 'last', 'defer', 'hbytes')
if not s[1] then return gone() end
if wanted ~= '' and wanted ~= s[1] then return {'epoch', s[1]} end
local n = tonumber(ARGV[8])
local limit = tonumber(ARGV[7])
local current = {}
for i = 0, n - 1 do
  local b = 9 + i * 6
  local id = ARGV[b]
  local f = redis.call('HMGET', V, id .. ':e', id .. ':h', id .. ':d', id .. ':m')
  if not f[1] then return {'stale', id} end
  if ARGV[b + 1] ~= '' and tonumber(ARGV[b + 2]) ~= tonumber(f[1]) then
    return {'conflict', id, ARGV[b + 1], f[1]}
  end
  if tonumber(ARGV[b + 5]) > limit then return {'too_large', id} end
  current[i] = f
end
local rev = tonumber(s[3]) + 1
local parts, bytes, versions, replaced, fresh = {}, 0, {'ok', rev, s[1]}, {}, {}
-- The first entry creates the log; a blob written before the call may have created the blobs hash.
if s[4] == '0' then table.insert(fresh, L) end
for i = 0, n - 1 do
  local b = 9 + i * 6
  local id = ARGV[b]
  local f = current[i]
  local version = tonumber(f[1]) + 1
  local old, metadata, value = f[3], ARGV[b + 3], ARGV[b + 4]
  table.insert(replaced, blob(old))
  if metadata ~= '' then
    metadata = string.sub(metadata, 2)
    redis.call('HSET', V, id .. ':e', version, id .. ':t', now, id .. ':s', ARGV[4], id .. ':d', value,
      id .. ':m', metadata)
  else
    metadata = f[4]
    redis.call('HSET', V, id .. ':e', version, id .. ':t', now, id .. ':s', ARGV[4], id .. ':d', value)
  end
  bytes = bytes + change(parts, 'c', version, id, f[2], metadata, old, value)
  table.insert(versions, version)
  if blob(value) and fresh[#fresh] ~= B then table.insert(fresh, B) end
end
local fields, keep, created = trim(rev, bytes, tonumber(ARGV[5]), tonumber(ARGV[6]),
  table.concat(replaced, ','), s[5], s[6])
if created then table.insert(fresh, H) end
append(keep, rev .. '-0', 'p', s[4], 'g', s[1], 'src', ARGV[4], 'ts', now, 'n', n, 'x', table.concat(parts))
redis.call('HSET', S, unpack(fields))
renew(tonumber(s[2]), fresh)
return versions
`;

/** Deletes a variable: `ARGV[4]` identifier, `[5]` source, `[6]` history size, `[7]` bytes. */
export const DELETE = `${PRELUDE}
local s = redis.call('HMGET', S, 'epoch', 'ttl', 'rev', 'last', 'defer', 'hbytes')
if not s[1] then return gone() end
if wanted ~= '' and wanted ~= s[1] then return {'epoch', s[1]} end
local id = resolve(ARGV[4])
if not id then return {'not_found'} end
local f = redis.call('HMGET', V, id .. ':h', id .. ':m', id .. ':e', id .. ':d')
if not f[1] then return {'not_found'} end
local rev = tonumber(s[3]) + 1
redis.call('HDEL', N, cjson.decode(f[1]).n)
redis.call('HDEL', V, id .. ':h', id .. ':m', id .. ':e', id .. ':t', id .. ':s', id .. ':d')
redis.call('ZREM', O, id)
redis.call('HINCRBY', S, 'count', -1)
local parts = {}
local bytes = change(parts, 'd', f[3], id, f[1], f[2], f[4], '')
local fields, keep = trim(rev, bytes, tonumber(ARGV[6]), tonumber(ARGV[7]), blob(f[4]) or '', s[5], s[6])
append(keep, rev .. '-0', 'p', s[4], 'g', s[1], 'src', ARGV[5], 'ts', now, 'n', 1, 'x', table.concat(parts))
redis.call('HSET', S, unpack(fields))
slide(tonumber(s[2]))
return {'ok', rev, s[1]}
`;

/**
 * Deletes a session. A last log entry (`end`) wakes readers on every server at once; the log
 * lingers for the grace time so that they read it, and the ending says `deleted`.
 */
export const DELETE_SESSION = `${PRELUDE}
local s = redis.call('HMGET', S, 'epoch', 'rev', 'last')
if not s[1] then return {'absent'} end
redis.call('XADD', L, (tonumber(s[2]) + 1) .. '-0', 'p', s[3], 'g', s[1], 'end', 'deleted')
redis.call('DEL', S, N, V, O, H, B)
redis.call('PEXPIRE', L, math.min(grace, 60000))
redis.call('SET', E, 'deleted', 'PX', grace)
return {'deleted'}
`;

/**
 * Imports variables, all or nothing, keeping ids and versions; creates the session when absent
 * and `wanted` is ''. `ARGV[4]` new epoch, `[5]` TTL ms, `[6]` the document's revision, `[7]`
 * the session metadata after the import, `[8]` most variables, `[9]` count, then per variable
 * id, name, header, metadata, version, updatedAt, source, value.
 */
export const IMPORT = `${PRELUDE}
local s = redis.call('HMGET', S, 'epoch', 'ttl', 'rev', 'count')
local created = false
if not s[1] then
  if wanted ~= '' then return gone() end
  redis.call('DEL', N, V, O, L, H, B)
  redis.call('HSET', S, 'epoch', ARGV[4], 'rev', 0, 'created', now, 'ttl', ARGV[5], 'meta', '',
    'count', 0, 'hbytes', 0, 'base', 0, 'last', 0, 'seq', 0)
  redis.call('SET', E, 'expired')
  s = {ARGV[4], ARGV[5], '0', '0'}
  created = true
elseif wanted ~= '' and wanted ~= s[1] then
  return {'epoch', s[1]}
end
local n = tonumber(ARGV[9])
for i = 0, n - 1 do
  local b = 10 + i * 8
  if redis.call('HEXISTS', V, ARGV[b] .. ':h') == 1 then return {'id_exists', i} end
  if redis.call('HEXISTS', N, ARGV[b + 1]) == 1 then return {'name_exists', i} end
end
local count = tonumber(s[4])
if count + n > tonumber(ARGV[8]) then return {'full', count} end
for i = 0, n - 1 do
  local b = 10 + i * 8
  local id = ARGV[b]
  redis.call('HSET', N, ARGV[b + 1], id)
  redis.call('HSET', V, id .. ':h', ARGV[b + 2], id .. ':m', ARGV[b + 3], id .. ':e', ARGV[b + 4],
    id .. ':t', ARGV[b + 5], id .. ':s', ARGV[b + 6], id .. ':d', ARGV[b + 7])
  redis.call('ZADD', O, redis.call('HINCRBY', S, 'seq', 1), id)
end
local rev = math.max(tonumber(s[3]), tonumber(ARGV[6]))
if count == 0 then
  -- An empty session adopts the document's history: nothing before it can be replayed.
  for _, item in ipairs(redis.call('LRANGE', H, 0, -1)) do free(string.match(item, '^%d+:%d+:(.*)$')) end
  free(redis.call('HGET', S, 'defer'))
  redis.call('DEL', H)
  redis.call('HSET', S, 'defer', '')
  redis.call('XTRIM', L, 'MINID', (rev + 1) .. '-0')
  redis.call('HSET', S, 'hbytes', 0, 'base', rev)
else
  rev = rev + 1
end
redis.call('HSET', S, 'rev', rev, 'count', count + n, 'meta', ARGV[7])
slide(tonumber(s[2]))
return {'ok', rev, s[1], created and '1' or '0'}
`;
