-- Wireshark dissector for the T2 tile's intertile packets, as `itc
-- capture -w` writes them: pcapng, link type LINKTYPE_USER0 (147), each
-- packet a 16-byte capture record header followed by the packet
-- (docs/reference.md, "itc/capture records").
--
-- It decodes the record header (time, neighbour, way, fate and drop
-- reason), the packet header (routed: MFMT, OVRN, EROR, DIR, service;
-- local types), Tile Event Packets (Connect, Disconnect, Events lost,
-- Packets lost), hello, echo, and the managed file service's messages
-- (service 8, docs/file-protocol.md). Lost records say how many records
-- a slow reader lost.
--
-- Installed by the t2-itc package where Wireshark looks for Lua plugins;
-- from the source tree: wireshark -X lua_script:tools/wireshark/t2-itc.lua

local t2 = Proto("t2itc", "T2 intertile")

local DIRS = { [1] = "NE", [2] = "ET", [3] = "SE", [5] = "SW", [6] = "WT", [7] = "NW" }
local DROPS = { "no_reader", "queue_full", "eror", "incompatible", "link_down", "absent", "malformed" }
local LOCAL_TYPES = {
    [0xc0] = "illegal", [0xc1] = "labelled value", [0xc2] = "thread debug",
    [0xc3] = "link status", [0xc4] = "Tile Event Packet", [0xc5] = "bounce",
}
local TEP_EVENTS = { [0] = "illegal", "Connect", "Disconnect", "Events lost", "Packets lost" }
local SERVICES = { [0] = "null", "hello", "echo", [8] = "managed files" }
local FILE_TYPES = { "ANNOUNCE", "TOMBSTONE", "REQUEST", "DATA", "RETRY", "ABORT", "SOLICIT" }
local FILE_OBJECTS = { "manifest", "piece" }
local ABORT_REASONS = { "unknown id", "superseded", "out of range", "shutting down" }

local function name_of(t, v, what)
    return t[v] or string.format("%s 0x%02x", what or "unknown", v)
end

local f = t2.fields
-- The record header.
f.rec_len = ProtoField.uint16("t2itc.rec_len", "Record length", base.DEC)
f.record = ProtoField.string("t2itc.record", "Record")
f.dir8 = ProtoField.uint8("t2itc.dir8", "Neighbour dir8", base.DEC)
f.dir = ProtoField.string("t2itc.dir", "Neighbour")
f.way_code = ProtoField.uint8("t2itc.way_code", "Way code", base.HEX)
f.way = ProtoField.string("t2itc.way", "Way")
f.fate_code = ProtoField.uint8("t2itc.fate_code", "Fate code", base.DEC)
f.fate = ProtoField.string("t2itc.fate", "Fate")
f.time_ns = ProtoField.uint64("t2itc.time_ns", "Time (ns since the Unix epoch)", base.DEC)
f.lost = ProtoField.uint64("t2itc.lost", "Records lost", base.DEC)
-- The packet header.
f.hdr = ProtoField.uint8("t2itc.hdr", "Header", base.HEX)
f.stnd = ProtoField.bool("t2itc.hdr.stnd", "Standard", 8, nil, 0x80)
f.locl = ProtoField.bool("t2itc.hdr.local", "Local", 8, nil, 0x40)
f.mfmt = ProtoField.bool("t2itc.hdr.mfmt", "MFMT (MFM traffic)", 8, nil, 0x20)
f.ovrn = ProtoField.bool("t2itc.hdr.ovrn", "OVRN (packets lost before this one)", 8, nil, 0x10)
f.eror = ProtoField.bool("t2itc.hdr.eror", "EROR (arrived damaged)", 8, nil, 0x08)
f.hdr_dir = ProtoField.uint8("t2itc.hdr.dir", "DIR", base.DEC, DIRS, 0x07)
f.ltype = ProtoField.uint8("t2itc.hdr.type", "Local type", base.HEX, LOCAL_TYPES)
f.kind = ProtoField.string("t2itc.kind", "Kind")
f.rsv = ProtoField.uint8("t2itc.rsv", "Reserved bits", base.HEX, nil, 0xc0)
f.svc = ProtoField.uint8("t2itc.svc", "Service", base.DEC, SERVICES, 0x3f)
f.payload = ProtoField.bytes("t2itc.payload", "Payload")
-- TEPs.
f.tep_event = ProtoField.string("t2itc.tep.event", "Event")
f.tep_code = ProtoField.uint8("t2itc.tep.code", "Event code", base.HEX)
f.tep_dir = ProtoField.uint8("t2itc.tep.dir", "Neighbour dir8", base.DEC, DIRS)
f.tep_count = ProtoField.uint32("t2itc.tep.count", "Packets lost", base.DEC)
-- Hello.
f.hello_version = ProtoField.uint8("t2itc.hello.version", "Version", base.DEC)
f.hello_name = ProtoField.string("t2itc.hello.name", "Tile name")
f.hello_physics = ProtoField.string("t2itc.hello.physics", "Physics id")
f.hello_flags = ProtoField.uint8("t2itc.hello.flags", "Flags", base.HEX)
f.hello_ask = ProtoField.bool("t2itc.hello.ask", "ASK (answer at once)", 8, nil, 0x01)
-- Echo.
f.echo_op = ProtoField.string("t2itc.echo.op", "Op")
f.echo_code = ProtoField.uint8("t2itc.echo.code", "Op code", base.HEX)
-- Managed files (service 8).
f.files_version = ProtoField.uint8("t2itc.files.version", "Protocol version", base.DEC)
f.files_type = ProtoField.string("t2itc.files.type", "Message")
f.files_type_code = ProtoField.uint8("t2itc.files.type_code", "Message type", base.HEX)
f.files_flags = ProtoField.uint8("t2itc.files.flags", "Flags", base.HEX)
f.files_complete = ProtoField.bool("t2itc.files.complete", "COMPLETE", 8, nil, 0x01)
f.files_name = ProtoField.string("t2itc.files.name", "Name")
f.files_fversion = ProtoField.uint64("t2itc.files.file_version", "File version", base.DEC)
f.files_manifest_id = ProtoField.bytes("t2itc.files.manifest_id", "Manifest id")
f.files_manifest_len = ProtoField.uint32("t2itc.files.manifest_len", "Manifest length", base.DEC)
f.files_base = ProtoField.uint32("t2itc.files.base", "Base piece", base.DEC)
f.files_bitmap_len = ProtoField.uint8("t2itc.files.bitmap_len", "Bitmap length", base.DEC)
f.files_bitmap = ProtoField.bytes("t2itc.files.bitmap", "Pieces bitmap")
f.files_record = ProtoField.bytes("t2itc.files.record", "Signed tombstone")
f.files_id = ProtoField.bytes("t2itc.files.id", "Short manifest id")
f.files_object = ProtoField.string("t2itc.files.object", "Object")
f.files_object_code = ProtoField.uint8("t2itc.files.object_code", "Object code", base.HEX)
f.files_piece = ProtoField.uint32("t2itc.files.piece", "Piece", base.DEC)
f.files_offset = ProtoField.uint32("t2itc.files.offset", "Offset", base.DEC)
f.files_count = ProtoField.uint8("t2itc.files.count", "Chunks", base.DEC)
f.files_data = ProtoField.bytes("t2itc.files.data", "Chunk")
f.files_delay = ProtoField.uint16("t2itc.files.delay", "Delay (ms)", base.DEC)
f.files_reason = ProtoField.string("t2itc.files.reason", "Reason")
f.files_reason_code = ProtoField.uint8("t2itc.files.reason_code", "Reason code", base.HEX)

local e_short = ProtoExpert.new("t2itc.short", "Shorter than its format", expert.group.MALFORMED, expert.severity.WARN)
local e_extra = ProtoExpert.new("t2itc.extra", "Bytes after the last field", expert.group.PROTOCOL, expert.severity.NOTE)
t2.experts = { e_short, e_extra }

-- Whether `tvb` holds `need` bytes from `at`; notes it in `tree` if not.
local function has(tvb, tree, at, need)
    if tvb:len() >= at + need then
        return true
    end
    tree:add_proto_expert_info(e_short)
    return false
end

local function dissect_tep(tvb, tree)
    local t = tree:add(t2, tvb(0), "Tile Event Packet")
    if not has(tvb, t, 1, 1) then return "tep" end
    local code = tvb(1, 1):uint()
    local event = name_of(TEP_EVENTS, code, "event")
    t:add(f.tep_code, tvb(1, 1))
    t:add(f.tep_event, tvb(1, 1), event)
    local info = "tep " .. event
    if tvb:len() >= 3 then
        t:add(f.tep_dir, tvb(2, 1))
        info = info .. " " .. name_of(DIRS, tvb(2, 1):uint(), "dir8")
    end
    if code == 4 and tvb:len() >= 7 then
        t:add_le(f.tep_count, tvb(3, 4))
        info = info .. " " .. tvb(3, 4):le_uint()
    end
    return info
end

local function dissect_hello(tvb, tree)
    local t = tree:add(t2, tvb(2), "Hello")
    if not has(tvb, t, 2, 2) then return "hello" end
    t:add(f.hello_version, tvb(2, 1))
    local n = tvb(3, 1):uint()
    if not has(tvb, t, 4, n + 1) then return "hello" end
    local name = tvb(4, n):string()
    t:add(f.hello_name, tvb(3, n + 1), name)
    local p = tvb(4 + n, 1):uint()
    if not has(tvb, t, 5 + n, p) then return "hello \"" .. name .. "\"" end
    local physics = tvb(5 + n, p):string()
    t:add(f.hello_physics, tvb(4 + n, p + 1), physics)
    local at = 5 + n + p
    if tvb:len() > at then
        local ft = t:add(f.hello_flags, tvb(at, 1))
        ft:add(f.hello_ask, tvb(at, 1))
    end
    return string.format("hello \"%s\" physics \"%s\"", name, physics)
end

local function dissect_echo(tvb, tree)
    local t = tree:add(t2, tvb(2), "Echo")
    if not has(tvb, t, 2, 1) then return "echo" end
    local code = tvb(2, 1):uint()
    local op = ({ "request", "reply" })[code] or string.format("op 0x%02x", code)
    t:add(f.echo_code, tvb(2, 1))
    t:add(f.echo_op, tvb(2, 1), op)
    if tvb:len() > 3 then
        t:add(f.payload, tvb(3))
    end
    return string.format("echo %s %d bytes", op, tvb:len() - 3)
end

-- Where a chunk belongs: ID, OBJECT, PIECE, OFFSET at message offsets 2..19.
local function chunk_place(m, t)
    t:add(f.files_id, m(2, 8))
    local obj = m(10, 1):uint()
    t:add(f.files_object_code, m(10, 1))
    t:add(f.files_object, m(10, 1), name_of(FILE_OBJECTS, obj, "object"))
    t:add(f.files_piece, m(11, 4))
    t:add(f.files_offset, m(15, 4))
    return string.format("%s %d @%d", name_of(FILE_OBJECTS, obj, "object"), m(11, 4):uint(), m(15, 4):uint())
end

-- Bytes after the last field.
local function no_more(m, t, at)
    if m:len() > at then
        t:add_proto_expert_info(e_extra)
    end
end

local function dissect_files(tvb, tree)
    local t = tree:add(t2, tvb(2), "Managed files")
    if not has(tvb, t, 2, 2) then return "files" end
    local m = tvb(2):tvb()
    t:add(f.files_version, m(0, 1))
    local code = m(1, 1):uint()
    local ty = name_of(FILE_TYPES, code, "type")
    t:add(f.files_type_code, m(1, 1))
    t:add(f.files_type, m(1, 1), ty)
    local info = "files " .. ty
    if code == 1 then -- ANNOUNCE
        if not has(m, t, 2, 2) then return info end
        local ft = t:add(f.files_flags, m(2, 1))
        ft:add(f.files_complete, m(2, 1))
        local n = m(3, 1):uint()
        if not has(m, t, 4, n + 44) then return info end
        local name = m(4, n):string()
        t:add(f.files_name, m(3, n + 1), name)
        t:add(f.files_fversion, m(4 + n, 8))
        t:add(f.files_manifest_id, m(12 + n, 32))
        t:add(f.files_manifest_len, m(44 + n, 4))
        info = string.format("%s %s v%s", info, name, m(4 + n, 8):uint64())
        local at = 48 + n
        if bit.band(m(2, 1):uint(), 1) == 0 and has(m, t, at, 5) then
            t:add(f.files_base, m(at, 4))
            local bl = m(at + 4, 1):uint()
            t:add(f.files_bitmap_len, m(at + 4, 1))
            at = at + 5
            if bl > 0 and has(m, t, at, bl) then
                t:add(f.files_bitmap, m(at, bl))
            end
            at = at + bl
            info = info .. " partial"
        else
            info = info .. " complete"
        end
        no_more(m, t, at)
    elseif code == 2 then -- TOMBSTONE
        if m:len() > 2 then
            t:add(f.files_record, m(2))
            -- "ITCT", format, N, name, version
            if m:len() >= 8 then
                local n = m(7, 1):uint()
                if m:len() >= 16 + n then
                    t:add(f.files_name, m(7, n + 1), m(8, n):string())
                    t:add(f.files_fversion, m(8 + n, 8))
                    info = string.format("%s %s v%s", info, m(8, n):string(), m(8 + n, 8):uint64())
                end
            end
        end
    elseif code == 3 then -- REQUEST
        if not has(m, t, 2, 18) then return info end
        info = info .. " " .. chunk_place(m, t)
        t:add(f.files_count, m(19, 1))
        info = info .. " x" .. m(19, 1):uint()
        no_more(m, t, 20)
    elseif code == 4 then -- DATA
        if not has(m, t, 2, 18) then return info end
        info = info .. " " .. chunk_place(m, t)
        if m:len() > 19 then
            t:add(f.files_data, m(19))
        end
        info = info .. " " .. (m:len() - 19) .. " bytes"
    elseif code == 5 then -- RETRY
        if not has(m, t, 2, 19) then return info end
        info = info .. " " .. chunk_place(m, t)
        t:add(f.files_delay, m(19, 2))
        info = info .. " after " .. m(19, 2):uint() .. " ms"
        no_more(m, t, 21)
    elseif code == 6 then -- ABORT
        if not has(m, t, 2, 9) then return info end
        t:add(f.files_id, m(2, 8))
        local r = m(10, 1):uint()
        t:add(f.files_reason_code, m(10, 1))
        t:add(f.files_reason, m(10, 1), name_of(ABORT_REASONS, r, "reason"))
        info = info .. " " .. name_of(ABORT_REASONS, r, "reason")
        no_more(m, t, 11)
    elseif code == 7 then -- SOLICIT
        no_more(m, t, 2)
    end
    return info
end

-- The packet (after the record header); returns the Info summary.
local function dissect_packet(tvb, pinfo, tree)
    local t = tree:add(t2, tvb(), "Packet")
    if tvb:len() < 1 then
        t:add_proto_expert_info(e_short)
        return "empty"
    end
    local b = tvb(0, 1):uint()
    local h = t:add(f.hdr, tvb(0, 1))
    h:add(f.stnd, tvb(0, 1))
    h:add(f.locl, tvb(0, 1))
    if bit.band(b, 0xc0) == 0x80 then
        h:add(f.mfmt, tvb(0, 1))
        h:add(f.ovrn, tvb(0, 1))
        h:add(f.eror, tvb(0, 1))
        h:add(f.hdr_dir, tvb(0, 1))
        local flags = ""
        if bit.band(b, 0x10) ~= 0 then flags = flags .. " ovrn" end
        if bit.band(b, 0x08) ~= 0 then flags = flags .. " eror" end
        if bit.band(b, 0x20) ~= 0 then
            t:add(f.kind, tvb(0, 1), "mfm")
            if tvb:len() > 1 then
                t:add(f.payload, tvb(1))
            end
            return "mfm" .. flags
        end
        t:add(f.kind, tvb(0, 1), "service")
        if not has(tvb, t, 1, 1) then return "service" .. flags end
        t:add(f.rsv, tvb(1, 1))
        t:add(f.svc, tvb(1, 1))
        local svc = bit.band(tvb(1, 1):uint(), 0x3f)
        local info
        if svc == 1 then
            info = dissect_hello(tvb, t)
        elseif svc == 2 then
            info = dissect_echo(tvb, t)
        elseif svc == 8 then
            info = dissect_files(tvb, t)
        else
            if tvb:len() > 2 then
                t:add(f.payload, tvb(2))
            end
            info = string.format("svc%02d", svc)
        end
        return info .. flags
    elseif bit.band(b, 0xe0) == 0xc0 then
        t:add(f.kind, tvb(0, 1), "local")
        h:add(f.ltype, tvb(0, 1))
        if b == 0xc4 then
            return dissect_tep(tvb, t)
        end
        if tvb:len() > 1 then
            t:add(f.payload, tvb(1))
        end
        return name_of(LOCAL_TYPES, b, "local")
    end
    t:add(f.kind, tvb(0, 1), "other")
    return string.format("header 0x%02x", b)
end

function t2.dissector(tvb, pinfo, tree)
    pinfo.cols.protocol = "T2-ITC"
    local t = tree:add(t2, tvb(), "T2 intertile capture record")
    if tvb:len() < 16 then
        t:add_proto_expert_info(e_short)
        return
    end
    local len = tvb(0, 2):le_uint()
    t:add_le(f.rec_len, tvb(0, 2))
    local kind = tvb(2, 1):uint()
    t:add_le(f.time_ns, tvb(8, 8))
    if kind == 2 then
        t:add(f.record, tvb(2, 1), "lost")
        if has(tvb, t, 16, 8) then
            t:add_le(f.lost, tvb(16, 8))
            pinfo.cols.info = string.format("-- lost %s records --", tvb(16, 8):le_uint64())
        end
        return
    end
    t:add(f.record, tvb(2, 1), "packet")
    local dir8 = tvb(3, 1):uint()
    local dir = name_of(DIRS, dir8, "dir8")
    t:add(f.dir8, tvb(3, 1))
    t:add(f.dir, tvb(3, 1), dir)
    local way_code = tvb(4, 1):uint()
    local way = ({ "in", "out" })[way_code] or string.format("way 0x%02x", way_code)
    t:add(f.way_code, tvb(4, 1))
    t:add(f.way, tvb(4, 1), way)
    if way_code == 1 then
        pinfo.p2p_dir = P2P_DIR_RECV
    elseif way_code == 2 then
        pinfo.p2p_dir = P2P_DIR_SENT
    end
    local fate_code = tvb(5, 1):uint()
    local fate = "passed"
    if fate_code ~= 0 then
        fate = "dropped: " .. (DROPS[fate_code] or string.format("reason %d", fate_code))
    end
    t:add(f.fate_code, tvb(5, 1))
    t:add(f.fate, tvb(5, 1), fate)
    pinfo.cols.src = way_code == 1 and dir or "tile"
    pinfo.cols.dst = way_code == 1 and "tile" or dir
    local plen = math.min(len, tvb:len()) - 16
    local info = "empty"
    if plen > 0 then
        info = dissect_packet(tvb(16, plen):tvb(), pinfo, tree)
    else
        t:add_proto_expert_info(e_short)
    end
    local drop = fate_code ~= 0 and (" DROP " .. (DROPS[fate_code] or tostring(fate_code))) or ""
    pinfo.cols.info = string.format("%s %s%s %s len %d", dir, way, drop, info, math.max(plen, 0))
end

local encaps = DissectorTable.get("wtap_encap")
encaps:add((wtap_encaps or wtap).USER0, t2)
