"""The warninglists that ship with the code: special-purpose addresses and reserved domain names.

Written from the RFCs and the IANA special-purpose address registries (RFC 6890 and its
updates), so a fresh install stops the values no feed should ever make an indicator of, before
any MISP list is imported. Each range says where it comes from.

Left out on purpose: ranges that embed or translate *other* addresses (``64:ff9b::/96`` NAT64,
``2001::/32`` Teredo, ``2002::/16`` 6to4), because the address inside may be a real host worth
alerting on; and ``.onion``, a special-use name (RFC 7686) under which real services, malicious
ones included, live.
"""

from __future__ import annotations

from typing import Final

from krsn.indicators.warninglists import Warninglist

__all__ = ["BUILTIN_WARNINGLISTS", "RESERVED_DOMAINS", "SPECIAL_IPV4", "SPECIAL_IPV6"]

_IP_ATTRIBUTES: Final = ("ip-src", "ip-dst", "domain|ip", "ip-src|port", "ip-dst|port")
_DOMAIN_ATTRIBUTES: Final = ("domain", "hostname", "domain|ip", "url", "email")
_VERSION: Final = 1  # bump when an entry changes

SPECIAL_IPV4: Final = Warninglist(
    name="krsn-special-ipv4",
    version=_VERSION,
    description="IPv4 special-purpose, private, shared, documentation, benchmarking, "
    "multicast and reserved ranges (IANA IPv4 special-purpose address registry, RFC 6890)",
    type="cidr",
    matching_attributes=_IP_ATTRIBUTES,
    entries=(
        "0.0.0.0/8",  # "this network" (RFC 791, RFC 1122)
        "10.0.0.0/8",  # private use (RFC 1918)
        "100.64.0.0/10",  # shared address space, carrier-grade NAT (RFC 6598)
        "127.0.0.0/8",  # loopback (RFC 1122)
        "169.254.0.0/16",  # link local (RFC 3927)
        "172.16.0.0/12",  # private use (RFC 1918)
        "192.0.0.0/24",  # IETF protocol assignments (RFC 6890)
        "192.0.2.0/24",  # documentation, TEST-NET-1 (RFC 5737)
        "192.31.196.0/24",  # AS112-v4 (RFC 7535)
        "192.52.193.0/24",  # AMT (RFC 7450)
        "192.88.99.0/24",  # deprecated 6to4 relay anycast (RFC 7526)
        "192.168.0.0/16",  # private use (RFC 1918)
        "192.175.48.0/24",  # direct delegation AS112 service (RFC 7534)
        "198.18.0.0/15",  # benchmarking (RFC 2544)
        "198.51.100.0/24",  # documentation, TEST-NET-2 (RFC 5737)
        "203.0.113.0/24",  # documentation, TEST-NET-3 (RFC 5737)
        "224.0.0.0/4",  # multicast (RFC 5771)
        "240.0.0.0/4",  # reserved (RFC 1112), limited broadcast 255.255.255.255 (RFC 919)
    ),
)

SPECIAL_IPV6: Final = Warninglist(
    name="krsn-special-ipv6",
    version=_VERSION,
    description="IPv6 special-purpose, unique local, link-local, documentation, benchmarking "
    "and multicast ranges (IANA IPv6 special-purpose address registry, RFC 6890)",
    type="cidr",
    matching_attributes=_IP_ATTRIBUTES,
    entries=(
        "::/128",  # unspecified (RFC 4291)
        "::1/128",  # loopback (RFC 4291)
        "::ffff:0:0/96",  # IPv4-mapped (RFC 4291); canonical values map these to IPv4 anyway
        "64:ff9b:1::/48",  # local-use IPv4/IPv6 translation (RFC 8215)
        "100::/64",  # discard-only (RFC 6666)
        "2001:1::1/128",  # port control protocol anycast (RFC 7723)
        "2001:1::2/128",  # TURN anycast (RFC 8155)
        "2001:1::3/128",  # DNS-SD service registration protocol anycast (RFC 9665)
        "2001:2::/48",  # benchmarking (RFC 5180)
        "2001:3::/32",  # AMT (RFC 7450)
        "2001:4:112::/48",  # AS112-v6 (RFC 7535)
        "2001:10::/28",  # deprecated ORCHID (RFC 4843)
        "2001:20::/28",  # ORCHIDv2 (RFC 7343)
        "2001:30::/28",  # drone remote ID protocol entity tags (RFC 9374)
        "2001:db8::/32",  # documentation (RFC 3849)
        "2620:4f:8000::/48",  # direct delegation AS112 service (RFC 7534)
        "3fff::/20",  # documentation (RFC 9637)
        "5f00::/16",  # segment routing SIDs (RFC 9602)
        "fc00::/7",  # unique local (RFC 4193)
        "fe80::/10",  # link-local unicast (RFC 4291)
        "fec0::/10",  # deprecated site-local (RFC 3879)
        "ff00::/8",  # multicast (RFC 4291)
    ),
)

RESERVED_DOMAINS: Final = Warninglist(
    name="krsn-reserved-domains",
    version=_VERSION,
    description="Reserved and special-use domain names and every name under them "
    "(RFC 2606, RFC 6761, RFC 6762, RFC 8375, the private-use .internal)",
    type="hostname",
    matching_attributes=_DOMAIN_ATTRIBUTES,
    entries=(
        "example",  # RFC 2606
        "example.com",  # RFC 2606
        "example.net",  # RFC 2606
        "example.org",  # RFC 2606
        "invalid",  # RFC 2606, RFC 6761
        "localhost",  # RFC 2606, RFC 6761
        "test",  # RFC 2606, RFC 6761
        "local",  # multicast DNS (RFC 6762)
        "home.arpa",  # residential home networks (RFC 8375)
        "internal",  # private use, reserved by ICANN (2024)
        # Reverse zones of the private ranges (RFC 6761 section 6.1).
        "10.in-addr.arpa",
        *(f"{octet}.172.in-addr.arpa" for octet in range(16, 32)),
        "168.192.in-addr.arpa",
        "254.169.in-addr.arpa",
    ),
)

BUILTIN_WARNINGLISTS: Final = (SPECIAL_IPV4, SPECIAL_IPV6, RESERVED_DOMAINS)
"""The built-in lists, in the order they take precedence."""
