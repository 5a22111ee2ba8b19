#!/usr/bin/env python3
"""Writes the threat-intelligence lists of bench/intel.sh: COUNT indicators (default 500,000), a fixed mix of IPv4
and IPv6 addresses and networks, domains, MD5/SHA-1/SHA-256 hashes and URLs, drawn with a fixed seed so every run
loads the same lists, plus the few indicators below that the Mordor LSASS-dump events do hold (so the run with the
lists raises a known handful of alerts). Random addresses avoid the private, multicast and loopback ranges the
corpus uses, so only the chosen indicators hit.

usage: bench/intel_indicators.py OUT_DIR [COUNT]
writes OUT_DIR/bench-plain.txt (addresses, networks, domains, URLs; one per line) and OUT_DIR/bench-hashes.csv
(a header line, then type,value rows), and prints the count of each kind.
"""
import os
import random
import sys

# Indicators the corpus holds (metasploit_logonpasswords_lsass_memory_dump.json).
HITS_PLAIN = [
    "10.0.5.13",            # DestinationIp (Sysmon 3) and DestAddress (Windows Filtering Platform)
    "224.0.0.0/24",         # multicast destinations: a network
    "data.microsoft.com",   # a parent domain of settings-win.data.microsoft.com (QueryName)
]
HITS_HASHES = [
    ("sha256", "4F8CAB6F9D71EEA5115B86A31C3F881562CE2D79DB9510C2AFFA8E1CE920FBA8"),  # inside a Sysmon Hashes value
    ("md5", "353a427726cf6c415d41c897bdcd5555"),
]

# Shares of the random indicators, per kind.
MIX = [
    ("ipv4", 0.36), ("ipv4-net", 0.08), ("ipv6", 0.03), ("ipv6-net", 0.01),
    ("domain", 0.24), ("md5", 0.08), ("sha1", 0.06), ("sha256", 0.10), ("url", 0.04),
]
TLDS = ["com", "net", "org", "info", "xyz", "top", "ru", "cn", "vn", "io", "biz", "online", "site"]
AVOID_FIRST_OCTET = {0, 10, 127, 169, 172, 192, 224, 225, 226, 227, 228, 229, 230, 231, 232, 233, 234, 235, 236,
                     237, 238, 239, 240, 241, 242, 243, 244, 245, 246, 247, 248, 249, 250, 251, 252, 253, 254, 255}


def public_ipv4(rng):
    while True:
        first = rng.randrange(1, 224)
        if first not in AVOID_FIRST_OCTET:
            return [first, rng.randrange(256), rng.randrange(256), rng.randrange(256)]


def label(rng, low, high):
    return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(rng.randrange(low, high)))


def indicator(kind, rng):
    if kind == "ipv4":
        return ".".join(map(str, public_ipv4(rng)))
    if kind == "ipv4-net":
        bits = rng.randrange(16, 31)
        a = public_ipv4(rng)
        value = (a[0] << 24 | a[1] << 16 | a[2] << 8 | a[3]) & ~((1 << (32 - bits)) - 1) & 0xffffffff
        return "%d.%d.%d.%d/%d" % (value >> 24, value >> 16 & 255, value >> 8 & 255, value & 255, bits)
    if kind == "ipv6":
        return "2a%02x:%x:%x::%x" % (rng.randrange(256), rng.randrange(65536), rng.randrange(65536),
                                     rng.randrange(1, 65536))
    if kind == "ipv6-net":
        return "2a%02x:%x:%x::/48" % (rng.randrange(256), rng.randrange(65536), rng.randrange(65536))
    if kind == "domain":
        parts = [label(rng, 6, 14)]
        if rng.random() < 0.3:
            parts.insert(0, label(rng, 3, 8))
        return ".".join(parts + [rng.choice(TLDS)])
    if kind in ("md5", "sha1", "sha256"):
        return "%0*x" % ({"md5": 32, "sha1": 40, "sha256": 64}[kind],
                         rng.getrandbits({"md5": 128, "sha1": 160, "sha256": 256}[kind]))
    if kind == "url":
        return "http://%s.%s/%s/%s.php" % (label(rng, 6, 12), rng.choice(TLDS), label(rng, 3, 8), label(rng, 3, 8))
    raise ValueError(kind)


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    out_dir = sys.argv[1]
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 500000
    rng = random.Random(20261121)
    random_count = count - len(HITS_PLAIN) - len(HITS_HASHES)
    made = {}
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "bench-plain.txt"), "w") as plain, \
            open(os.path.join(out_dir, "bench-hashes.csv"), "w") as hashes:
        plain.write("# bench/intel_indicators.py: %d random indicators and %d that the corpus holds\n"
                    % (random_count, len(HITS_PLAIN) + len(HITS_HASHES)))
        hashes.write("type,value\n")
        written = 0
        for n, (kind, share) in enumerate(MIX):
            k = int(random_count * share) if n + 1 < len(MIX) else random_count - written
            written += k
            made[kind] = k
            for _ in range(k):
                value = indicator(kind, rng)
                if kind in ("md5", "sha1", "sha256"):
                    hashes.write("%s,%s\n" % (kind, value))
                else:
                    plain.write(value + "\n")
        for value in HITS_PLAIN:
            plain.write(value + "\n")
        for kind, value in HITS_HASHES:
            hashes.write("%s,%s\n" % (kind, value))
    made["corpus hits"] = len(HITS_PLAIN) + len(HITS_HASHES)
    print("intel_indicators.py: %d indicators: %s" % (count, ", ".join("%s %d" % kv for kv in made.items())))


if __name__ == "__main__":
    main()
