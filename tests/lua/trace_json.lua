-- --trace FILE (SPEC 9) writes a Chrome trace-event JSON file that a real
-- (strict) JSON parser accepts, with the structure Perfetto and
-- chrome://tracing need: a traceEvents array; every event has ph, ts, pid,
-- tid and name; X spans have a duration; B/E pairs balance per thread; a
-- thread_name for every track (the serial thread and each worker). And what
-- a user looks for: frames, serial and parallel phases, one span per actor
-- run named by the actor, on the workers, two of them at once, and the
-- message flows (each arrow's two ends inside a run span).
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local C = require("cli")
local json = require("json")
local lib = arg[0]:match("^(.*)/") or "."

local path = os.tmpname()
local code, out, err = C.run({ "--workers", "2", "--trace", path, lib .. "/lib/obs_workload.lua", "3", "0.02" })
assert(code == 0, "status " .. tostring(code) .. ": " .. err)
assert(err == "", "stderr: " .. err)
local f = assert(io.open(path, "rb"))
local text = f:read("a")
f:close()
os.remove(path)

local doc = json.decode(text)
assert(type(doc) == "table" and type(doc.traceEvents) == "table", "no traceEvents array")
local events = doc.traceEvents
assert(events.n and events.n > 0, "traceEvents is not a non-empty array")

local phs = { X = true, B = true, E = true, M = true, s = true, f = true, C = true, i = true }
local thread_names, tids_used = {}, {}
local stacks = {}
local runs, frames, phases, flows_out, flows_in, counters = {}, 0, {}, {}, {}, 0
for i = 1, events.n do
  local e = events[i]
  local where = "event " .. i .. " (" .. tostring(e.name) .. ")"
  assert(type(e.ph) == "string" and phs[e.ph], where .. ": bad ph " .. tostring(e.ph))
  assert(type(e.ts) == "number" and e.ts >= 0, where .. ": bad ts")
  assert(math.type(e.pid) == "integer", where .. ": bad pid")
  assert(math.type(e.tid) == "integer", where .. ": bad tid")
  assert(type(e.name) == "string", where .. ": no name")
  if e.ph == "M" then
    if e.name == "thread_name" then thread_names[e.tid] = e.args.name end
  else
    tids_used[e.tid] = true
  end
  if e.ph == "X" then
    assert(type(e.dur) == "number" and e.dur >= 0, where .. ": X without dur")
    if e.cat == "parallel" or e.cat == "serial" then
      runs[#runs + 1] = e
    elseif e.name == "frame" then
      frames = frames + 1
    elseif e.cat == "phase" then
      phases[e.name] = (phases[e.name] or 0) + 1
    end
  elseif e.ph == "B" then
    stacks[e.tid] = stacks[e.tid] or {}
    table.insert(stacks[e.tid], e.name)
  elseif e.ph == "E" then
    local st = stacks[e.tid]
    assert(st and #st > 0, where .. ": E without B")
    assert(table.remove(st) == e.name, where .. ": E closes another span")
  elseif e.ph == "s" or e.ph == "f" then
    assert(type(e.id) == "string", where .. ": flow without id")
    local t = e.ph == "s" and flows_out or flows_in
    t[#t + 1] = e
  elseif e.ph == "C" then
    counters = counters + 1
    assert(type(e.args) == "table", where .. ": counter without args")
  end
end
for tid, st in pairs(stacks) do assert(#st == 0, "unbalanced B on tid " .. tid) end
assert(thread_names[0] == "serial", "no thread_name for the serial thread")
assert(thread_names[1] == "worker 1" and thread_names[2] == "worker 2", "no worker thread_name")
for tid in pairs(tids_used) do assert(thread_names[tid], "tid " .. tid .. " has no thread_name") end

assert(frames >= 3, "frames: " .. frames)
assert((phases["serial phase"] or 0) >= 3 and (phases["parallel phase"] or 0) >= 2, "phases missing")
assert(counters >= 1, "no message counter")

-- the actors' parallel runs: named by the actor, on workers, overlapping
local par = { ["Workspace.A"] = {}, ["Workspace.B"] = {} }
for _, r in ipairs(runs) do
  if r.cat == "parallel" then
    assert(r.tid >= 1, "a parallel run on the serial thread's track")
    if par[r.name] then table.insert(par[r.name], r) end
  end
end
assert(#par["Workspace.A"] >= 2 and #par["Workspace.B"] >= 2, "actor runs missing")
local overlap = false
for _, a in ipairs(par["Workspace.A"]) do
  for _, b in ipairs(par["Workspace.B"]) do
    if a.tid ~= b.tid and a.ts < b.ts + b.dur and b.ts < a.ts + a.dur then overlap = true end
  end
end
assert(overlap, "no two actors ran at once on two workers")

-- flows: every arrow end lies inside a run span of its thread
local function inside(e)
  for _, r in ipairs(runs) do
    if r.tid == e.tid and r.ts <= e.ts and e.ts <= r.ts + r.dur then return true end
  end
  return false
end
assert(#flows_out >= 9 and #flows_in >= 9, "message flows missing")
local ids = {}
for _, e in ipairs(flows_out) do
  assert(inside(e), "a flow start outside any run span")
  ids[e.id] = true
end
for _, e in ipairs(flows_in) do
  assert(inside(e), "a flow end outside any run span")
  assert(ids[e.id], "a flow end without a start")
end
print("OK")
