package auth

import (
	"sync"
	"time"
)

// maxCached bounds the verified tokens a Signer remembers.
const maxCached = 10000

// verified remembers tokens whose signature was checked: the same bytes
// verify the same way, so a repeated token costs a map lookup instead of an
// HMAC and a JSON decode. Expiry is still checked on every use.
type verified struct {
	mu     sync.RWMutex
	claims map[string]Claims
}

func (v *verified) get(token string) (Claims, bool) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	c, ok := v.claims[token]
	return c, ok
}

func (v *verified) put(token string, c Claims) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.claims == nil || len(v.claims) >= maxCached {
		v.claims = make(map[string]Claims, 64) // start over rather than grow without bound
	}
	v.claims[token] = c
}

// VerifyCached is Verify that remembers tokens it verified: the interceptor
// chain verifies every call's token with it.
func (s *Signer) VerifyCached(token string, now time.Time) (Claims, error) {
	if c, ok := s.cache.get(token); ok {
		if now.Unix() >= c.Expires {
			return Claims{}, ErrExpired
		}
		return c, nil
	}
	c, err := s.Verify(token, now)
	if err == nil {
		s.cache.put(token, c)
	}
	return c, err
}
