package web

import (
	"net/netip"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// clientIP is the address of the client that made the request, as the
// audit log, sessions and login limits name it. Without trusted proxies
// (server.trusted_proxies) it is the connection's peer: X-Forwarded-For is
// anyone's to write. When the peer is a trusted proxy, X-Forwarded-For is
// read from the right (the hop nearest to vigil) and the first address that
// is not a trusted proxy is the client, as nginx's real_ip_recursive does;
// when every hop is trusted, the left-most. A malformed hop ends the walk
// at the last proxy believed.
func (s *Server) clientIP(c *fiber.Ctx) string {
	addr, ok := netip.AddrFromSlice(c.Context().RemoteIP())
	if !ok {
		return c.IP()
	}
	addr = addr.Unmap()
	if !isTrusted(addr, s.trusted) {
		return addr.String()
	}
	var hops []string
	for _, h := range c.Request().Header.PeekAll(fiber.HeaderXForwardedFor) {
		hops = append(hops, strings.Split(string(h), ",")...)
	}
	for i := len(hops) - 1; i >= 0; i-- {
		hop, ok := parseHop(hops[i])
		if !ok {
			break
		}
		addr = hop
		if !isTrusted(addr, s.trusted) {
			break
		}
	}
	return addr.String()
}

// parseHop reads one X-Forwarded-For element: an address, possibly with a
// port ("192.0.2.1:4711", "[2001:db8::1]:4711").
func parseHop(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), true
	}
	return netip.Addr{}, false
}
