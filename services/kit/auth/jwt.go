// Package auth signs and verifies the bearer tokens of API.md §2 (HS256 JWTs
// with sub, org, roles and exp) and carries the verified identity in a context.
// Every service verifies tokens itself with this one piece.
package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"time"
)

// Roles a token may carry.
const (
	GlobalAdmin  = "GLOBAL_ADMIN"
	BillingAdmin = "BILLING_ADMIN"
	LicenseAdmin = "LICENSE_ADMIN"
	GlobalReader = "GLOBAL_READER"
	Operator     = "OPERATOR"
	// Service is held by the selfserve services calling each other's
	// internal RPCs; its subject names the calling service.
	Service = "SERVICE"
)

// Claims are the claims of a selfserve token.
type Claims struct {
	Subject  string   `json:"sub"`
	Org      string   `json:"org,omitempty"`
	Roles    []string `json:"roles"`
	IssuedAt int64    `json:"iat"`
	Expires  int64    `json:"exp"`
}

// Errors of Verify.
var (
	ErrMalformed = errors.New("malformed token")
	ErrSignature = errors.New("bad token signature")
	ErrExpired   = errors.New("token expired")
)

var (
	enc = base64.RawURLEncoding
	// The only header we issue and accept: alg none, other algorithms and
	// extra header fields are refused by comparing bytes.
	header = enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))
)

// Signer signs and verifies tokens with one HMAC key.
type Signer struct {
	key   []byte
	cache verified
}

// NewSigner returns a Signer for a key of at least 32 bytes.
func NewSigner(key []byte) (*Signer, error) {
	if len(key) < 32 {
		return nil, errors.New("signing key shorter than 32 bytes")
	}
	return &Signer{key: append([]byte(nil), key...)}, nil
}

// OperatorToken is an operator's token, issued now and valid for ttl.
func (s *Signer) OperatorToken(ttl time.Duration) (string, error) {
	now := time.Now()
	return s.Sign(Claims{Subject: "operator", Roles: []string{Operator}, IssuedAt: now.Unix(), Expires: now.Add(ttl).Unix()})
}

// Sign returns a compact JWT of the claims.
func (s *Signer) Sign(c Claims) (string, error) {
	payload, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	signing := header + "." + enc.EncodeToString(payload)
	return signing + "." + enc.EncodeToString(s.mac(signing)), nil
}

func (s *Signer) mac(signing string) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(signing))
	return m.Sum(nil)
}

// Verify checks a token's header, signature and expiry (against now, real
// time) and returns its claims.
func (s *Signer) Verify(token string, now time.Time) (Claims, error) {
	var c Claims
	h, rest, ok := strings.Cut(token, ".")
	if !ok || h != header {
		return c, ErrMalformed
	}
	p, sig, ok := strings.Cut(rest, ".")
	if !ok || strings.Contains(sig, ".") {
		return c, ErrMalformed
	}
	if _, err := enc.DecodeString(sig); err != nil {
		return c, ErrMalformed
	}
	// Compare the signature as text with the one encoding of the right MAC:
	// comparing decoded bytes would take other spellings of them too (the
	// decoder skips CR and LF and ignores the spare bits of the last
	// character), so a token changed in transit would still pass.
	want := enc.EncodeToString(s.mac(token[:len(h)+1+len(p)]))
	if !hmac.Equal([]byte(sig), []byte(want)) {
		return c, ErrSignature
	}
	payload, err := enc.DecodeString(p)
	if err != nil {
		return c, ErrMalformed
	}
	if err := json.Unmarshal(payload, &c); err != nil || c.Subject == "" || c.Expires == 0 {
		return Claims{}, ErrMalformed
	}
	if now.Unix() >= c.Expires {
		return Claims{}, ErrExpired
	}
	return c, nil
}

// Derive returns a secret for another purpose (label), derived from the
// signing key: the key itself never leaves the Signer.
func (s *Signer) Derive(label string) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte("selfserve derive\x00" + label))
	return m.Sum(nil)
}
