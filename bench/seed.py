#!/usr/bin/env python3
"""Bulk-seeds tokens straight into a migrated keyward database, for benchmarks only.

Secrets follow SPEC §3 (prefix + 40 base62 + CRC-32 base62 checksum) and only their SHA-256
is stored, as keyward does. Usage: seed.py DB WORKSPACE_SLUG COUNT [SECRETS_OUT [USABLE]]
With SECRETS_OUT, the newest USABLE tokens (default all) get real secrets written there, one a
line, all active; the rest get random hashes (unreachable, but real rows for the index).
Statuses are mixed: ~90 % active, 4 % expiring soon, 3 % expired, 3 % revoked.
"""
import hashlib, os, random, sqlite3, sys, time, zlib

B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
rng = random.SystemRandom()


def b62(n, width):
    out = ""
    for _ in range(width):
        out = B62[n % 62] + out
        n //= 62
    return out


def secret(prefix="kw_"):
    head = prefix + "".join(rng.choice(B62) for _ in range(40))
    return head + b62(zlib.crc32(head.encode()), 6)


def main():
    db, slug, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    out = open(sys.argv[4], "w") if len(sys.argv) > 4 else None
    usable = int(sys.argv[5]) if len(sys.argv) > 5 else count
    con = sqlite3.connect(db)
    ws = con.execute("SELECT id FROM workspaces WHERE slug = ?", (slug,)).fetchone()[0]
    now = int(time.time())
    words = ["deploy", "backup", "zapier", "reporting", "billing", "crm", "ci", "export", "sync", "webhook"]
    start = time.time()
    con.execute("BEGIN")
    batch = []
    for i in range(count):
        real = out is None or i >= count - usable
        s = secret() if real else None
        digest = hashlib.sha256(s.encode()).digest() if s else os.urandom(32)
        r = i % 100 if out is None or not real else 0
        expires = None if r < 60 else now + 30 * 86400 if r < 90 else now + 3 * 86400 if r < 94 else now - 86400
        revoked = now - 3600 if r >= 97 else None
        created = now - (count - i)
        batch.append((f"tok_bench{i:012d}", ws, f"{words[i % len(words)]} {i}", digest,
                      (s or "kw_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx")[:7] + "…" + (s or "xxxx")[-4:], "chats:read messages:send", expires, revoked, created, created))
        if out and s:
            out.write(s + "\n")
        if len(batch) == 1000:
            flush(con, batch)
    flush(con, batch)
    con.commit()
    print(f"seeded {count} tokens into {slug} in {time.time() - start:.1f} s", file=sys.stderr)


def flush(con, batch):
    if batch:
        con.executemany(
            "INSERT INTO tokens (id, workspace_id, name, secret_hash, hint, permissions, expires_at, revoked_at,"
            " created_at, updated_at, created_by_type, created_by_name) VALUES (?,?,?,?,?,?,?,?,?,?,'cli','bench')",
            batch,
        )
        batch.clear()


if __name__ == "__main__":
    main()
