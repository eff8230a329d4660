package auth

import (
	"bytes"
	"encoding/base64"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func signer(t *testing.T) *Signer {
	t.Helper()
	s, err := NewSigner(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSignVerify(t *testing.T) {
	s := signer(t)
	now := time.Unix(1_800_000_000, 0)
	tok, err := s.Sign(Claims{Subject: "alice", Org: "contoso", Roles: []string{GlobalAdmin}, IssuedAt: now.Unix(), Expires: now.Add(time.Hour).Unix()})
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.Verify(tok, now)
	if err != nil || c.Subject != "alice" || c.Org != "contoso" || c.Roles[0] != GlobalAdmin {
		t.Fatalf("verify: %v %+v", err, c)
	}
	if _, err := s.Verify(tok, now.Add(time.Hour)); !errors.Is(err, ErrExpired) {
		t.Fatalf("expired token accepted: %v", err)
	}
	other, _ := NewSigner(bytes.Repeat([]byte{8}, 32))
	if _, err := other.Verify(tok, now); !errors.Is(err, ErrSignature) {
		t.Fatalf("foreign key accepted: %v", err)
	}
}

func TestVerifyRefusesForgeries(t *testing.T) {
	s := signer(t)
	now := time.Unix(1_800_000_000, 0)
	tok, _ := s.Sign(Claims{Subject: "bob", Org: "contoso", Expires: now.Add(time.Hour).Unix()})
	parts := strings.Split(tok, ".")
	b64 := base64.RawURLEncoding.EncodeToString
	none := b64([]byte(`{"alg":"none","typ":"JWT"}`))
	forgedPayload := b64([]byte(`{"sub":"bob","org":"contoso","roles":["OPERATOR"],"exp":9999999999}`))
	for name, bad := range map[string]string{
		"alg none":        none + "." + parts[1] + ".",
		"alg none no sig": none + "." + parts[1],
		"changed payload": parts[0] + "." + forgedPayload + "." + parts[2],
		"empty":           "",
		"garbage":         "not-a-token",
		"four parts":      tok + ".x",
		"bad base64 sig":  parts[0] + "." + parts[1] + ".!!!",
		"HS512 header":    b64([]byte(`{"alg":"HS512","typ":"JWT"}`)) + "." + parts[1] + "." + parts[2],
		"truncated sig":   parts[0] + "." + parts[1] + "." + parts[2][:10],
	} {
		if _, err := s.Verify(bad, now); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestLoadOrCreateKeyRace(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys", "signing.key")
	var wg sync.WaitGroup
	keys := make([][]byte, 8)
	errs := make([]error, 8)
	for i := range keys {
		wg.Add(1)
		go func() {
			defer wg.Done()
			keys[i], errs[i] = LoadOrCreateKey(path)
		}()
	}
	wg.Wait()
	for i := range keys {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if !bytes.Equal(keys[i], keys[0]) || len(keys[i]) != 32 {
			t.Fatalf("process %d read another key", i)
		}
	}
	again, err := LoadOrCreateKey(path)
	if err != nil || !bytes.Equal(again, keys[0]) {
		t.Fatal("key changed on reload")
	}
}

func TestVerifyCached(t *testing.T) {
	s := signer(t)
	now := time.Unix(1_800_000_000, 0)
	tok, _ := s.Sign(Claims{Subject: "ada", Org: "contoso", Expires: now.Add(time.Minute).Unix()})
	for range 2 { // the second answer comes from the cache
		if c, err := s.VerifyCached(tok, now); err != nil || c.Subject != "ada" {
			t.Fatalf("%+v %v", c, err)
		}
	}
	if _, err := s.VerifyCached(tok, now.Add(time.Minute)); !errors.Is(err, ErrExpired) {
		t.Fatalf("a cached token outlived its expiry: %v", err)
	}
	if _, err := s.VerifyCached(tok+"x", now); err == nil {
		t.Fatal("a changed token was accepted")
	}
}
