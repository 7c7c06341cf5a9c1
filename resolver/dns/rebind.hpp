// DNS rebinding: a public name whose answer points into the home network
// (a router's admin page, a NAS, loopback) lets a web page from that name
// talk to those devices as if it were them. These tests find such addresses
// in an upstream's answer; the pipeline decides what to do about it.
#pragma once

#include <cstddef>
#include <cstdint>

namespace hush::dns {

// Addresses no public name should lead to: this-network 0/8, loopback 127/8,
// RFC 1918 (10/8, 172.16/12, 192.168/16), link-local 169.254/16 and the
// shared CGNAT space 100.64/10 (RFC 6598: an ISP's own network, routers
// included, reachable from the house just like the LAN).
bool is_private_v4(const uint8_t addr[4]);
// ::, ::1, link-local fe80::/10, site-local fec0::/10, unique local
// fc00::/7, and IPv4-mapped (::ffff:0:0/96) addresses private as above.
bool is_private_v6(const uint8_t addr[16]);

// Whether the answer section of `msg` (a reply already checked as well
// formed) holds an A or AAAA record of class IN with a private address.
bool answers_private_address(const uint8_t* msg, size_t len);

}  // namespace hush::dns
