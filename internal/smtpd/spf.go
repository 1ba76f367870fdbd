package smtpd

import (
	"context"
	"fmt"
	"net"
	"strings"
)

// Resolver is the DNS the SPF check asks (*net.Resolver implements it).
type Resolver interface {
	LookupTXT(ctx context.Context, name string) ([]string, error)
	LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error)
	LookupMX(ctx context.Context, name string) ([]*net.MX, error)
}

// SPF evaluates a domain's SPF policy (RFC 7208) for a sending host: the mechanisms all,
// ip4, ip6, a, mx and include, the redirect modifier, qualifiers, and the limit of 10 DNS
// lookups. Macros and exists/ptr are not evaluated (a policy using them is neutral). The
// verdict is pass, fail, softfail, neutral, none, temperror or permerror.
type SPF struct{ Resolver Resolver }

func sprintf(f string, v ...any) string { return fmt.Sprintf(f, v...) }
func sprintln(v ...any) string          { return fmt.Sprintln(v...) }

// Check returns the verdict for ip sending mail from (the MAIL FROM address, or for a bounce
// the HELO name).
func (s *SPF) Check(ctx context.Context, ip net.IP, helo, from string) string {
	domain := helo
	if i := strings.LastIndexByte(from, '@'); i >= 0 {
		domain = from[i+1:]
	}
	if domain == "" || ip == nil {
		return "none"
	}
	lookups := 0
	return s.eval(ctx, ip, strings.ToLower(domain), &lookups, 0)
}

func (s *SPF) eval(ctx context.Context, ip net.IP, domain string, lookups *int, depth int) string {
	if depth > 10 {
		return "permerror"
	}
	txts, err := s.Resolver.LookupTXT(ctx, domain)
	if err != nil {
		if dnsErr, ok := err.(*net.DNSError); ok && dnsErr.IsNotFound {
			return "none"
		}
		return "temperror"
	}
	var record string
	for _, t := range txts {
		if t == "v=spf1" || strings.HasPrefix(t, "v=spf1 ") {
			if record != "" {
				return "permerror" // more than one record
			}
			record = t
		}
	}
	if record == "" {
		return "none"
	}
	redirect := ""
	for _, term := range strings.Fields(record)[1:] {
		if strings.HasPrefix(term, "redirect=") {
			redirect = strings.TrimPrefix(term, "redirect=")
			continue
		}
		if strings.Contains(term, "=") {
			continue // other modifiers (exp=) do not change the verdict
		}
		qual := "pass"
		switch term[0] {
		case '+':
			term = term[1:]
		case '-':
			qual, term = "fail", term[1:]
		case '~':
			qual, term = "softfail", term[1:]
		case '?':
			qual, term = "neutral", term[1:]
		}
		name, arg, _ := strings.Cut(term, ":")
		cidr := ""
		if i := strings.IndexByte(arg, '/'); i >= 0 {
			arg, cidr = arg[:i], arg[i:]
		} else if i := strings.IndexByte(name, '/'); i >= 0 {
			name, cidr = name[:i], name[i:]
		}
		if arg == "" {
			arg = domain
		}
		match := false
		switch strings.ToLower(name) {
		case "all":
			match = true
		case "ip4", "ip6":
			match = inNet(ip, arg+cidr, arg)
		case "a", "mx", "include":
			if *lookups++; *lookups > 10 {
				return "permerror"
			}
			switch strings.ToLower(name) {
			case "a":
				addrs, err := s.Resolver.LookupIPAddr(ctx, arg)
				if err != nil && !notFound(err) {
					return "temperror"
				}
				for _, a := range addrs {
					match = match || inNet(ip, a.IP.String()+cidr, a.IP.String())
				}
			case "mx":
				mxs, err := s.Resolver.LookupMX(ctx, arg)
				if err != nil && !notFound(err) {
					return "temperror"
				}
				for _, mx := range mxs {
					addrs, _ := s.Resolver.LookupIPAddr(ctx, strings.TrimSuffix(mx.Host, "."))
					for _, a := range addrs {
						match = match || inNet(ip, a.IP.String()+cidr, a.IP.String())
					}
				}
			case "include":
				switch r := s.eval(ctx, ip, strings.ToLower(arg), lookups, depth+1); r {
				case "pass":
					match = true
				case "temperror", "permerror":
					return r
				case "none":
					return "permerror"
				}
			}
		default:
			return "neutral" // exists, ptr, macros: not evaluated here
		}
		if match {
			return qual
		}
	}
	if redirect != "" {
		if *lookups++; *lookups > 10 {
			return "permerror"
		}
		r := s.eval(ctx, ip, strings.ToLower(redirect), lookups, depth+1)
		if r == "none" {
			return "permerror"
		}
		return r
	}
	return "neutral"
}

func notFound(err error) bool {
	dnsErr, ok := err.(*net.DNSError)
	return ok && dnsErr.IsNotFound
}

// inNet reports whether ip is in cidr (or equals addr when cidr has no prefix length).
func inNet(ip net.IP, cidr, addr string) bool {
	if strings.Contains(cidr, "/") {
		_, n, err := net.ParseCIDR(cidr)
		return err == nil && n.Contains(ip)
	}
	a := net.ParseIP(addr)
	return a != nil && a.Equal(ip)
}
