// Package ratelimit keeps one tenant from flooding a component: a token
// bucket per organization and one per caller (golang.org/x/time/rate), both
// of which a call must pass. Buckets are made on first use and dropped once
// idle and full again, so memory follows the callers of the last minutes,
// not every caller ever seen.
package ratelimit

import (
	"math"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/selfserve/selfserve/services/kit/errs"
)

// Defaults of Config, stated in README.md: people and the scripts of an
// integrator never meet them; a runaway loop flooding one organization does.
const (
	DefaultOrgRate     = 500 // requests a second, per organization
	DefaultOrgBurst    = 1000
	DefaultCallerRate  = 100 // requests a second, per caller
	DefaultCallerBurst = 200
)

// Config sets the buckets' rates (requests a second) and bursts; a rate of 0
// turns that bucket off.
type Config struct {
	OrgRate, CallerRate   float64
	OrgBurst, CallerBurst int
}

// Defaults is the Config of the flags' defaults.
func Defaults() Config {
	return Config{OrgRate: DefaultOrgRate, OrgBurst: DefaultOrgBurst, CallerRate: DefaultCallerRate, CallerBurst: DefaultCallerBurst}
}

// Limiter holds the buckets of one component.
type Limiter struct {
	cfg     Config
	now     func() time.Time
	mu      sync.Mutex
	orgs    map[string]*bucket
	callers map[string]*bucket
	swept   time.Time
}

type bucket struct {
	lim  *rate.Limiter
	used time.Time
}

// New returns a limiter, nil when both buckets are off.
func New(cfg Config) *Limiter {
	if cfg.OrgRate <= 0 && cfg.CallerRate <= 0 {
		return nil
	}
	cfg.OrgBurst = max(cfg.OrgBurst, 1)
	cfg.CallerBurst = max(cfg.CallerBurst, 1)
	return &Limiter{cfg: cfg, now: time.Now, orgs: map[string]*bucket{}, callers: map[string]*bucket{}}
}

// Allow takes one token from org's bucket and one from caller's (an empty
// key skips its bucket). When either is empty it takes none and answers
// how long to wait before the call would pass. A nil Limiter allows all.
func (l *Limiter) Allow(org, caller string) (ok bool, retryAfter time.Duration) {
	if l == nil {
		return true, 0
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sweep(now)
	var rs []*rate.Reservation
	if org != "" && l.cfg.OrgRate > 0 {
		rs = append(rs, l.take(l.orgs, org, l.cfg.OrgRate, l.cfg.OrgBurst, now))
	}
	if caller != "" && l.cfg.CallerRate > 0 {
		rs = append(rs, l.take(l.callers, caller, l.cfg.CallerRate, l.cfg.CallerBurst, now))
	}
	for _, r := range rs {
		retryAfter = max(retryAfter, r.DelayFrom(now))
	}
	if retryAfter == 0 {
		return true, 0
	}
	for _, r := range rs {
		r.CancelAt(now) // a refused call costs the tenant nothing
	}
	return false, retryAfter
}

func (l *Limiter) take(m map[string]*bucket, key string, r float64, burst int, now time.Time) *rate.Reservation {
	b := m[key]
	if b == nil {
		b = &bucket{lim: rate.NewLimiter(rate.Limit(r), burst)}
		m[key] = b
	}
	b.used = now
	return b.lim.ReserveN(now, 1)
}

// sweepEvery is how often idle buckets are looked for.
const sweepEvery = time.Minute

// sweep drops the buckets that have refilled since their last use: a fresh
// bucket would be the same.
func (l *Limiter) sweep(now time.Time) {
	if now.Sub(l.swept) < sweepEvery {
		return
	}
	l.swept = now
	for _, set := range []struct {
		m     map[string]*bucket
		r     float64
		burst int
	}{{l.orgs, l.cfg.OrgRate, l.cfg.OrgBurst}, {l.callers, l.cfg.CallerRate, l.cfg.CallerBurst}} {
		if set.r <= 0 {
			continue
		}
		full := time.Duration(float64(set.burst) / set.r * float64(time.Second))
		for k, b := range set.m {
			if now.Sub(b.used) > full {
				delete(set.m, k)
			}
		}
	}
}

// Buckets counts the buckets held now, for tests.
func (l *Limiter) Buckets() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.orgs) + len(l.callers)
}

// Refuse is the RATE_LIMITED error of a call that must wait retryAfter: its
// metadata says how long, in whole seconds (what an HTTP Retry-After holds).
func Refuse(retryAfter time.Duration) *errs.Error {
	s := RetrySeconds(retryAfter)
	return errs.New(errs.RateLimited, "too many requests: retry in %d s", s).With("retry_after", strconv.Itoa(s))
}

// RetrySeconds rounds a wait up to whole seconds, at least 1.
func RetrySeconds(d time.Duration) int {
	return max(1, int(math.Ceil(d.Seconds())))
}
