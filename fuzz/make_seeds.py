#!/usr/bin/env python3
"""Writes the committed seed corpus under fuzz/corpus/<target>/.

The seeds are hand-written: the example frames of RFC 6455 §5.7 and RFC 7692
§7.2.3, handshakes as Chromium, Firefox and pusher-js send them, real Pusher
protocol messages and a signed HTTP API request (the example of Pusher's REST
API documentation). Run it from anywhere; it replaces the seed files it
writes and leaves other files alone. Frame-target inputs start with the
option bytes described in fuzz/src/lib.rs (`00 00`: defaults, one piece).
"""
import hashlib
import hmac
import os
import struct
import zlib

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
MASK = bytes([0x37, 0xFA, 0x21, 0x3D])  # the key of RFC 6455 §5.7


def write(target, name, data):
    path = os.path.join(ROOT, target)
    os.makedirs(path, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(path, name), "wb") as f:
        f.write(data)


def frame(opcode, payload=b"", fin=True, rsv1=False, mask=None, length=None):
    if isinstance(payload, str):
        payload = payload.encode()
    b0 = (0x80 if fin else 0) | (0x40 if rsv1 else 0) | opcode
    n = len(payload) if length is None else length
    m = 0x80 if mask else 0
    if n < 126:
        head = bytes([b0, m | n])
    elif n < 65536:
        head = bytes([b0, m | 126]) + struct.pack(">H", n)
    else:
        head = bytes([b0, m | 127]) + struct.pack(">Q", n)
    if mask:
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        head += mask
    return head + payload


TEXT, BINARY, CONT, CLOSE, PING, PONG = 1, 2, 0, 8, 9, 10


def close_body(code, reason=""):
    return struct.pack(">H", code) + reason.encode()


def frame_sets(mask):
    """(name, wire bytes) for a peer that masks (client→server) or not."""
    f = lambda *a, **k: frame(*a, mask=mask, **k)
    utf8 = "κόσμε".encode()
    return [
        # RFC 6455 §5.7 examples.
        ("rfc_hello", f(TEXT, "Hello")),
        ("rfc_fragmented_hello", f(TEXT, "Hel", fin=False) + f(CONT, "lo")),
        ("rfc_ping_pong", f(PING, "Hello") + f(PONG, "Hello")),
        ("rfc_binary_256", f(BINARY, bytes(range(256)))),
        ("rfc_binary_64k_header", frame(BINARY, b"", mask=mask, length=65536) + bytes(32)),
        # Control frame in the middle of a fragmented message.
        ("ping_inside_fragments", f(TEXT, "fragment ", fin=False) + f(PING, "p") + f(CONT, "one ", fin=False) + f(CONT, "two")),
        # A code point cut across frames, then closing.
        ("utf8_across_frames", f(TEXT, utf8[:3], fin=False) + f(CONT, utf8[3:]) + f(CLOSE, close_body(1000, "bye"))),
        ("invalid_utf8", f(TEXT, b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited")),
        ("close_normal", f(CLOSE, close_body(1000, "done"))),
        ("close_empty", f(CLOSE)),
        ("close_bad_code", f(CLOSE, close_body(1005))),
        ("close_1_byte", f(CLOSE, b"\x03")),
        ("empty_text_and_binary", f(TEXT) + f(BINARY)),
        ("json_message", f(TEXT, '{"event":"pusher:ping","data":{}}')),
        ("reserved_opcode", f(3, "x")),
        ("continuation_first", f(CONT, "x")),
        ("control_too_long", f(PING, b"a" * 126)),
        ("rsv2_set", bytes([0xA1]) + f(TEXT, "x")[1:]),
        # The other direction's masking: a violation for this role.
        ("wrong_masking", frame(TEXT, "Hello", mask=None if mask else MASK)),
        ("many_pings", b"".join(f(PING, b"x" * 100) for _ in range(20))),
    ]


def frame_seeds(target, mask):
    for name, wire in frame_sets(mask):
        write(target, name, b"\x00\x00" + wire)
    hello = frame(TEXT, "Hello", mask=mask)
    frag = frame(TEXT, "Hel", fin=False, mask=mask) + frame(CONT, "lo", mask=mask)
    # Byte-by-byte and header-splitting pieces, with draining after each.
    write(target, "split_bytewise", bytes([0x01, 11]) + bytes([1] * 11) + hello)
    write(target, "split_fragments", bytes([0x01, 3, 1, 4, 0]) + frag + hello)
    # Options: fragmented echoes + EOF, closing first, tiny buffer (no drain).
    write(target, "opt_fragment_sends_eof", bytes([0x48, 0]) + frame(BINARY, bytes(range(40)), mask=mask))
    write(target, "opt_close_first", bytes([0x20, 0]) + hello + frame(CLOSE, close_body(1001), mask=mask))
    pings = b"".join(frame(PING, b"y" * 50, mask=mask) for _ in range(10))
    write(target, "opt_tiny_buffer_pings", bytes([0x80, 0]) + pings + hello)
    write(target, "opt_small_limits", bytes([0x04, 0]) + frame(TEXT, "z" * 300, mask=mask))
    write(target, "opt_no_auto_pong", bytes([0x03, 0]) + frame(PING, "echo me", mask=mask))
    # I/O bits of the count byte: read_buffer() and vectored, partial writes.
    write(target, "io_read_buffer_vectored", bytes([0x01, 0x30 | 3, 2, 5, 1]) + frag + hello)
    write(target, "io_vectored_fragment_sends", bytes([0x08, 0x20]) + frame(BINARY, bytes(range(100)), mask=mask) + pings)


def raw_deflate(data, wbits=15, level=6):
    c = zlib.compressobj(level, zlib.DEFLATED, -wbits)
    out = c.compress(data) + c.flush(zlib.Z_SYNC_FLUSH)
    assert out.endswith(b"\x00\x00\xff\xff")
    return out[:-4]


def deflate_seeds(target, mask):
    f = lambda *a, **k: frame(*a, mask=mask, **k)
    json_msg = b'{"event":"client-typing","channel":"private-chat","data":{"user":"jane","typing":true}}' * 4
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    first = c.compress(b"Hello") + c.flush(zlib.Z_SYNC_FLUSH)
    second = c.compress(b"Hello") + c.flush(zlib.Z_SYNC_FLUSH)
    sets = [
        # RFC 7692 §7.2.3 examples.
        ("rfc_hello", f(TEXT, bytes.fromhex("f248cdc9c90700"), rsv1=True)),
        ("rfc_hello_fragmented", f(TEXT, bytes.fromhex("f248cd"), rsv1=True, fin=False) + f(CONT, bytes.fromhex("c9c90700"))),
        ("rfc_context_takeover", f(TEXT, bytes.fromhex("f248cdc9c90700"), rsv1=True) + f(TEXT, bytes.fromhex("f200110000"), rsv1=True)),
        ("rfc_stored_block", f(TEXT, bytes.fromhex("000500faff48656c6c6f00"), rsv1=True)),
        ("rfc_bfinal", f(TEXT, bytes.fromhex("f348cdc9c907000000"), rsv1=True)),
        ("rfc_two_blocks", f(TEXT, bytes.fromhex("f248050000 00ffffcac9c90700".replace(" ", "")), rsv1=True)),
        ("zlib_context_takeover", f(TEXT, first[:-4], rsv1=True) + f(TEXT, second[:-4], rsv1=True)),
        ("json_window_9", f(TEXT, raw_deflate(json_msg, wbits=9), rsv1=True)),
        ("binary_window_15", f(BINARY, raw_deflate(bytes(range(256)) * 8), rsv1=True)),
        # 200 KiB of zeros in about 200 bytes: above every inflate limit.
        ("bomb_200k_zeros", f(BINARY, raw_deflate(bytes(200 * 1024), level=9), rsv1=True)),
        ("corrupt_data", f(TEXT, b"\xff\xff\xff\xff\x00garbage", rsv1=True)),
        ("compressed_invalid_utf8", f(TEXT, raw_deflate(b"ok \xff\xfe not utf-8"), rsv1=True)),
        ("uncompressed_in_deflate_session", f(TEXT, "plain") + f(TEXT, bytes.fromhex("f248cdc9c90700"), rsv1=True)),
        ("rsv1_on_continuation", f(TEXT, bytes.fromhex("f248cd"), rsv1=True, fin=False) + f(CONT, bytes.fromhex("c9c90700"), rsv1=True)),
        ("rsv1_on_ping", f(PING, "x", rsv1=True)),
        ("empty_compressed", f(BINARY, b"\x00", rsv1=True) + f(TEXT, b"", rsv1=True)),
    ]
    # Selectors (see deflate_choice): 0x00 windows 15/15 with takeover and a
    # 1000-byte limit; 0x36 server window 8, client 9, no context takeover on
    # both sides; 0xc5 windows 9/9, compress everything, 64 KiB limit.
    for name, wire in sets:
        for selector in (0x00, 0x36, 0xC5):
            write(target, f"{name}_{selector:02x}", bytes([selector, 0x00, 0x00]) + wire)
    hello = f(TEXT, bytes.fromhex("f248cdc9c90700"), rsv1=True)
    write(target, "split_bytewise_c5", bytes([0xC5, 0x01, 12]) + bytes([1] * 12) + hello + hello)
    json = f(TEXT, raw_deflate(json_msg, wbits=9), rsv1=True)
    write(target, "io_vectored_fragment_sends_76", bytes([0x76, 0x09, 0x30]) + json + json)


def handshake_seeds():
    t = "handshake_request"
    crlf = lambda lines: "\r\n".join(lines) + "\r\n\r\n"
    write(t, "rfc6455_example", crlf([
        "GET /chat HTTP/1.1",
        "Host: server.example.com",
        "Upgrade: websocket",
        "Connection: Upgrade",
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
        "Origin: http://example.com",
        "Sec-WebSocket-Protocol: chat, superchat",
        "Sec-WebSocket-Version: 13",
    ]))
    write(t, "chromium", crlf([
        "GET /echo HTTP/1.1",
        "Host: localhost:9001",
        "Connection: Upgrade",
        "Pragma: no-cache",
        "Cache-Control: no-cache",
        "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
        "Upgrade: websocket",
        "Origin: http://localhost:9001",
        "Sec-WebSocket-Version: 13",
        "Accept-Encoding: gzip, deflate, br, zstd",
        "Accept-Language: en-US,en;q=0.9",
        "Sec-WebSocket-Key: x3JJHMbDL1EzLkh9GBhXDw==",
        "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits",
    ]))
    write(t, "pusher_js_chromium", crlf([
        "GET /app/278d425bdf160c739803?protocol=7&client=js&version=8.4.0&flash=false HTTP/1.1",
        "Host: localhost:6001",
        "Connection: Upgrade",
        "Pragma: no-cache",
        "Cache-Control: no-cache",
        "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
        "Upgrade: websocket",
        "Origin: http://localhost:8080",
        "Sec-WebSocket-Version: 13",
        "Accept-Encoding: gzip, deflate, br, zstd",
        "Accept-Language: en-US,en;q=0.9",
        "Sec-WebSocket-Key: 9cH0lXxo5kiJVZ1Zw0B0Ug==",
        "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits",
    ]))
    write(t, "firefox", crlf([
        "GET /chat HTTP/1.1",
        "Host: localhost:8080",
        "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
        "Accept: */*",
        "Accept-Language: en-US,en;q=0.5",
        "Accept-Encoding: gzip, deflate, br",
        "Sec-WebSocket-Version: 13",
        "Origin: http://localhost:8080",
        "Sec-WebSocket-Extensions: permessage-deflate",
        "Sec-WebSocket-Key: Mq3Nv3m0C9Hl3cJ1xGJ+Ew==",
        "Connection: keep-alive, Upgrade",
        "Sec-Fetch-Dest: empty",
        "Sec-Fetch-Mode: websocket",
        "Sec-Fetch-Site: same-origin",
        "Pragma: no-cache",
        "Upgrade: websocket",
    ]))
    write(t, "autobahn_offers", crlf([
        "GET / HTTP/1.1",
        "User-Agent: AutobahnTestSuite/0.8.2-0.10.9",
        "Host: 127.0.0.1:9001",
        "Upgrade: WebSocket",
        "Connection: Upgrade",
        "Pragma: no-cache",
        "Cache-Control: no-cache",
        "Sec-WebSocket-Key: a/rYs4y6SOyjzeI7uD9kRA==",
        "Sec-WebSocket-Extensions: permessage-deflate; client_no_context_takeover; server_max_window_bits=8; client_max_window_bits=\"9\", permessage-deflate; server_no_context_takeover",
        "Sec-WebSocket-Version: 13",
    ]))
    write(t, "post_method", crlf(["POST /chat HTTP/1.1", "Host: a", "Content-Length: 0"]))
    write(t, "http_1_0", crlf(["GET / HTTP/1.0", "Host: a", "Upgrade: websocket", "Connection: Upgrade"]))
    write(t, "version_8_bad_key", crlf([
        "GET / HTTP/1.1", "Host: a", "Upgrade: websocket", "Connection: Upgrade",
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ", "Sec-WebSocket-Version: 8",
    ]))
    write(t, "incomplete", "GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n")
    write(t, "bare_lf", "GET / HTTP/1.1\nHost: a\nUpgrade: websocket\nConnection: Upgrade\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\nSec-WebSocket-Version: 13\n\n")

    t = "handshake_response"
    # s3pPLMBiTxaQ9kYGzzhZRbK+xOo= stands for the right accept value.
    acc = "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    write(t, "rfc6455_example", crlf([
        "HTTP/1.1 101 Switching Protocols", "Upgrade: websocket", "Connection: Upgrade", acc,
        "Sec-WebSocket-Protocol: chat",
    ]))
    write(t, "deflate_plain", crlf([
        "HTTP/1.1 101 Switching Protocols", "Upgrade: websocket", "Connection: Upgrade", acc,
        "Sec-WebSocket-Extensions: permessage-deflate",
    ]))
    write(t, "deflate_all_params", crlf([
        "HTTP/1.1 101 Switching Protocols", "Upgrade: websocket", "Connection: Upgrade", acc,
        "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=8; client_max_window_bits=9",
        "Sec-WebSocket-Protocol: pusher-channels-protocol-7",
    ]))
    write(t, "nginx_proxy", crlf([
        "HTTP/1.1 101 Switching Protocols", "Server: nginx/1.24.0", "Date: Tue, 25 Nov 2025 10:00:00 GMT",
        "Connection: upgrade", "Upgrade: websocket", acc,
        "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=15",
    ]))
    write(t, "unrequested_extension", crlf([
        "HTTP/1.1 101 Switching Protocols", "Upgrade: websocket", "Connection: Upgrade", acc,
        "Sec-WebSocket-Extensions: x-webkit-deflate-frame",
    ]))
    write(t, "not_found", "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 9\r\n\r\nnot found")
    write(t, "upgrade_required", crlf([
        "HTTP/1.1 426 Upgrade Required", "Sec-WebSocket-Version: 13", "Upgrade: websocket", "Connection: Upgrade",
        "Content-Length: 0",
    ]))
    write(t, "frame_after_head", crlf([
        "HTTP/1.1 101 Switching Protocols", "Upgrade: websocket", "Connection: Upgrade", acc,
    ]) + "\x81\x05Hello")
    # Found by this target: a head ending 1..=4 bytes past the 1 KiB limit
    # was accepted (fixed in parse_response).
    start = "HTTP/1.1 101 Switching Protocols\r\nX: "
    write(t, "head_just_over_limit", start + "a" * (1026 - len(start) - 4) + "\r\n\r\n")


def deflate_negotiation_seeds():
    t = "deflate_negotiation"
    seeds = {
        "chromium_offer": "permessage-deflate; client_max_window_bits",
        "firefox_offer": "permessage-deflate",
        "autobahn_offers": "permessage-deflate; client_no_context_takeover; server_max_window_bits=8; client_max_window_bits=\"9\", permessage-deflate; server_no_context_takeover",
        "quoted_values": "permessage-deflate; server_max_window_bits=\"10\"; client_max_window_bits=\"12\"",
        "two_lines": "x-webkit-deflate-frame\npermessage-deflate; server_no_context_takeover; client_max_window_bits=8",
        "server_answer": "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=9; client_max_window_bits=9",
        "bad_params": "permessage-deflate; server_max_window_bits=16, permessage-deflate; foo=bar, permessage-deflate; server_no_context_takeover; server_no_context_takeover",
        "empty_elements": " , ,\t,",
    }
    for name, text in seeds.items():
        # Config bytes: 0x3f windows 15/15 with takeover; 0xc0 windows 9/9
        # (8 is clamped) without context takeover.
        write(t, name, b"\x3f\x3f" + text.encode())
        write(t, name + "_strict", b"\xc0\x09" + text.encode())


def pusher_seeds():
    key, secret = "278d425bdf160c739803", "7ad3773142a6692b25b8"
    sign = lambda m: hmac.new(secret.encode(), m.encode(), hashlib.sha256).hexdigest()
    esc = lambda s: s.replace("\\", "\\\\").replace('"', '\\"')
    t = "pusher_message"
    channel_data = '{"user_id":10,"user_info":{"name":"Mr. Channels"}}'
    user_data = '{"id":"12345","user_info":{"name":"Jane"},"watchlist":["1","2"]}'
    seeds = {
        "subscribe_public": '{"event":"pusher:subscribe","data":{"auth":"","channel":"my-channel"}}',
        "subscribe_private": '{"event":"pusher:subscribe","data":{"auth":"%s:%s","channel":"private-foobar"}}'
        % (key, sign("1234.1234:private-foobar")),
        "subscribe_presence": '{"event":"pusher:subscribe","data":{"auth":"%s:%s","channel_data":"%s","channel":"presence-foobar"}}'
        % (key, sign("1234.1234:presence-foobar:" + channel_data), esc(channel_data)),
        "subscribe_double_encoded": '{"event":"pusher:subscribe","data":"{\\"channel\\":\\"private-encrypted-x\\",\\"auth\\":\\"k:00\\"}"}',
        "unsubscribe": '{"event":"pusher:unsubscribe","data":{"channel":"my-channel"}}',
        "ping": '{"event":"pusher:ping","data":{}}',
        "pong": '{"event":"pusher:pong","data":{}}',
        "signin": '{"event":"pusher:signin","data":{"auth":"%s:%s","user_data":"%s"}}'
        % (key, sign("1234.1234::user::" + user_data), esc(user_data)),
        "client_event_object": '{"event":"client-typing","data":{"user":"jane","typing":true},"channel":"private-chat"}',
        "client_event_string": '{"event":"client-message","data":"hello \\"world\\" \\u00e9","channel":"presence-room"}',
        "client_event_null": '{"event":"client-x","data":null,"channel":"private-a"}',
        "server_to_user": '{"event":"pusher:subscribe","data":{"channel":"#server-to-user-12345"}}',
        "unknown_pusher_event": '{"event":"pusher_internal:member_added","data":{}}',
        "not_json": '{"event":"pusher:subscribe","data":{"channel":',
    }
    for name, text in seeds.items():
        write(t, name, text)


def api_seeds():
    key, secret = "278d425bdf160c739803", "7ad3773142a6692b25b8"
    t = "api_signature"

    def signed(method, path, params, body, ts=1353088179):
        allp = dict(params)
        allp.update(auth_key=key, auth_timestamp=str(ts), auth_version="1.0")
        if body:
            allp["body_md5"] = hashlib.md5(body).hexdigest()
        query = "&".join(f"{k}={v}" for k, v in sorted(allp.items()))
        sig = hmac.new(secret.encode(), f"{method}\n{path}\n{query}".encode(), hashlib.sha256).hexdigest()
        return f"{query}&auth_signature={sig}"

    # The example of Pusher's REST API documentation (its signature is
    # da454824c97ba181a32ccc17a72625ba02771f50b50e1e7430e47a1f3f457e6c).
    body = b'{"name":"foo","channels":["project-3"],"data":"{\\"some\\":\\"data\\"}"}'
    q = signed("POST", "/apps/3/events", {}, body)
    assert q.endswith("da454824c97ba181a32ccc17a72625ba02771f50b50e1e7430e47a1f3f457e6c"), q
    write(t, "pusher_docs_events", b"POST\n/apps/3/events\n" + q.encode() + b"\n" + body)
    q = signed("GET", "/apps/3/channels", {"filter_by_prefix": "presence-", "info": "user_count"}, b"")
    write(t, "channels_info", "GET\n/apps/3/channels\n" + q + "\n")
    q = signed("GET", "/apps/3/channels/presence-foobar/users", {}, b"")
    write(t, "presence_users", "GET\n/apps/3/channels/presence-foobar/users\n" + q + "\n")
    write(t, "escaped_query", "GET\n/apps/3/channels\nauth_key=278d425bdf160c739803&auth_timestamp=1353088179&auth_version=1.0&info=user_count%2Csubscription_count&filter_by_prefix=presence%2D&auth_signature=00\n")
    write(t, "bad_escape", "GET\n/apps/3/channels\nauth_key=a&auth_signature=%zz&auth_version=1.0&auth_timestamp=1\n")
    write(t, "duplicate_param", "GET\n/apps/3/channels\nauth_key=a&AUTH_KEY=b&auth_signature=0&auth_version=1.0&auth_timestamp=1\n")


if __name__ == "__main__":
    frame_seeds("frame_server", MASK)
    frame_seeds("frame_client", None)
    deflate_seeds("frame_deflate_server", MASK)
    deflate_seeds("frame_deflate_client", None)
    handshake_seeds()
    deflate_negotiation_seeds()
    pusher_seeds()
    api_seeds()
