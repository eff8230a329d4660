// Package webhook is the sending side of signed webhooks: the secret of an
// endpoint, the Selfserve-Signature header (Stripe's scheme: an HMAC-SHA256
// over the timestamp, a dot and the body), the retry schedule, and an HTTP
// client that will not reach loopback, private or link-local addresses, at
// registration or at the moment it dials (so a name that resolves somewhere
// else later is refused too). Receivers verify with Verify.
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Headers of a delivery.
const (
	SignatureHeader = "Selfserve-Signature"
	EventHeader     = "Selfserve-Event"    // the event's name: the same on every retry and redelivery
	DeliveryHeader  = "Selfserve-Delivery" // the delivery's name
)

// Retry schedule: the first retry after FirstRetry, each next one twice as
// late up to MaxRetry apart, until GiveUpAfter since the event.
const (
	FirstRetry  = 10 * time.Second
	MaxRetry    = time.Hour
	GiveUpAfter = 72 * time.Hour
	// Timeout bounds one attempt, from dialing to the end of the answer.
	Timeout = 10 * time.Second
	// SignatureTolerance is how old a signature Verify accepts.
	SignatureTolerance = 5 * time.Minute
)

// NewSecret returns a new signing secret: whsec_ and 32 random bytes.
func NewSecret() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return "whsec_" + base64.RawURLEncoding.EncodeToString(b), nil
}

// Sign is the Selfserve-Signature of body sent at t with secret.
func Sign(secret string, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + mac(secret, ts, body)
}

func mac(secret, ts string, body []byte) string {
	h := hmac.New(sha256.New, []byte(secret))
	h.Write([]byte(ts))
	h.Write([]byte{'.'})
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}

// Errors of Verify.
var (
	ErrNoSignature  = errors.New("no valid t= and v1= in the signature")
	ErrBadSignature = errors.New("the signature does not match the body")
	ErrTooOld       = errors.New("the signature's timestamp is outside the tolerance")
)

// Verify checks a Selfserve-Signature header against body and secret, and
// that its timestamp is within tolerance of now. Any one v1 may match (a
// sender rolling its secret signs with both).
func Verify(secret, header string, body []byte, now time.Time, tolerance time.Duration) error {
	var ts string
	var sigs []string
	for _, part := range strings.Split(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		switch {
		case !ok:
		case k == "t":
			ts = v
		case k == "v1":
			sigs = append(sigs, v)
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 {
		return ErrNoSignature
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return ErrTooOld
	}
	want := mac(secret, ts, body)
	for _, s := range sigs {
		if hmac.Equal([]byte(s), []byte(want)) {
			return nil
		}
	}
	return ErrBadSignature
}

// NextAttempt is when attempt n+1 is due after n failed attempts (n ≥ 1) of
// an event created at created, and false once the schedule gives up.
func NextAttempt(created, failedAt time.Time, n int) (time.Time, bool) {
	wait := FirstRetry
	for i := 1; i < n && wait < MaxRetry; i++ {
		wait *= 2
	}
	wait = min(wait, MaxRetry)
	next := failedAt.Add(wait)
	if next.Sub(created) > GiveUpAfter {
		return time.Time{}, false
	}
	return next, true
}

// ErrPrivate refuses an address that is not on the public internet.
var ErrPrivate = errors.New("not a public address")

// public reports whether ip may be reached: not loopback, private,
// link-local, unspecified, multicast, or in the shared (CGNAT) and
// benchmarking ranges.
func public(ip netip.Addr) bool {
	ip = ip.Unmap()
	switch {
	case !ip.IsValid(), ip.IsLoopback(), ip.IsPrivate(), ip.IsLinkLocalUnicast(), ip.IsLinkLocalMulticast(),
		ip.IsInterfaceLocalMulticast(), ip.IsMulticast(), ip.IsUnspecified():
		return false
	}
	for _, p := range reserved {
		if p.Contains(ip) {
			return false
		}
	}
	return true
}

var reserved = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"), // shared address space
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"), // benchmarking
	netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("64:ff9b::/96"), // NAT64 can reach private IPv4
}

// Policy says which endpoints may be reached.
type Policy struct {
	// AllowPrivate lets endpoints resolve to loopback and private ranges,
	// and use plain http (tests, and endpoints inside one network).
	AllowPrivate bool
	// Resolver looks names up (nil: net.DefaultResolver).
	Resolver *net.Resolver
}

// CheckURL says why raw cannot be a webhook endpoint, or nil: an absolute
// https URL (http too when private addresses are allowed) without user
// information, whose host resolves only to public addresses.
func (p Policy) CheckURL(ctx context.Context, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "" {
		return fmt.Errorf("%q is not an absolute URL", raw)
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && p.AllowPrivate:
	default:
		return fmt.Errorf("the URL must use https, not %s", u.Scheme)
	}
	if u.User != nil {
		return errors.New("the URL must not hold a user name or password")
	}
	if u.Fragment != "" {
		return errors.New("the URL must not have a fragment")
	}
	if p.AllowPrivate {
		return nil
	}
	host := u.Hostname()
	if ip, err := netip.ParseAddr(host); err == nil {
		if !public(ip) {
			return fmt.Errorf("%s is %w", host, ErrPrivate)
		}
		return nil
	}
	r := p.Resolver
	if r == nil {
		r = net.DefaultResolver
	}
	ips, err := r.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return fmt.Errorf("%s does not resolve: %v", host, err)
	}
	for _, ip := range ips {
		if !public(ip) {
			return fmt.Errorf("%s resolves to %s, %w", host, ip, ErrPrivate)
		}
	}
	return nil
}

// Client is the HTTP client of deliveries: each attempt bounded by Timeout,
// no redirects followed (a redirect could lead anywhere), and, unless the
// policy allows private addresses, every connection refused at dial time
// when its address is not public.
func (p Policy) Client() *http.Client {
	dialer := &net.Dialer{Timeout: Timeout, Resolver: p.Resolver}
	if !p.AllowPrivate {
		dialer.Control = func(_, address string, _ syscall.RawConn) error {
			host, _, err := net.SplitHostPort(address)
			if err != nil {
				return err
			}
			ip, err := netip.ParseAddr(host)
			if err != nil || !public(ip) {
				return fmt.Errorf("dial %s: %w", address, ErrPrivate)
			}
			return nil
		}
	}
	transport := &http.Transport{
		Proxy:                 nil, // a proxy would dial for us, past the check
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   Timeout,
		ResponseHeaderTimeout: Timeout,
	}
	return &http.Client{
		Timeout:       Timeout,
		Transport:     transport,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// Request is one attempt of a delivery.
type Request struct {
	URL, Secret string
	Event       string // the event's name
	Delivery    string // the delivery's name
	Body        []byte // the event, in JSON
}

// Send makes one attempt at now: a POST of the body, signed. It answers the
// HTTP status (0 when none came) and nil only for a 2xx.
func Send(ctx context.Context, c *http.Client, r Request, now time.Time) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.URL, bytes.NewReader(r.Body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "selfserve-webhooks/1")
	req.Header.Set(SignatureHeader, Sign(r.Secret, now, r.Body))
	req.Header.Set(EventHeader, r.Event)
	req.Header.Set(DeliveryHeader, r.Delivery)
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, fmt.Errorf("the endpoint answered %s", resp.Status)
	}
	return resp.StatusCode, nil
}
