package auth

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

// fuzzNow is the instant every fuzzed token is verified at.
var fuzzNow = time.Unix(1_800_000_000, 0)

func fuzzSigner(tb testing.TB) *Signer {
	tb.Helper()
	s, err := NewSigner(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// FuzzVerify: Verify never panics and accepts nothing but a token this
// signer made, byte for byte:
//   - an arbitrary string is refused unless it is the valid token itself;
//   - the valid token with one byte changed, inserted or removed is refused;
//   - a token whose MAC is right but whose header is not exactly
//     {"alg":"HS256","typ":"JWT"} (alg none, HS512, extra fields, other
//     spacing) is refused;
//   - a signed token with an arbitrary payload is accepted only with a
//     subject and an expiry still ahead.
//
// Every refusal is one of ErrMalformed, ErrSignature or ErrExpired.
func FuzzVerify(f *testing.F) {
	s := fuzzSigner(f)
	valid, err := s.Sign(Claims{Subject: "alice", Org: "contoso", Roles: []string{GlobalAdmin}, IssuedAt: fuzzNow.Unix(), Expires: fuzzNow.Add(time.Hour).Unix()})
	if err != nil {
		f.Fatal(err)
	}
	parts := strings.Split(valid, ".")
	// The last character of a 32-byte MAC in base64 has two spare bits:
	// flipping one spells the same bytes.
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	spare := valid[:len(valid)-1] + string(alphabet[strings.IndexByte(alphabet, valid[len(valid)-1])^1])
	for _, seed := range []struct {
		token   string
		pos     uint16
		op      uint8
		b       byte
		header  string
		payload string
	}{
		{valid, 0, 0, 'A', `{"alg":"HS256","typ":"JWT"}`, `{"sub":"bob","roles":null,"iat":0,"exp":1900000000}`},
		{"", 5, 1, 'B', `{"alg":"none","typ":"JWT"}`, `{"sub":"bob","exp":1900000000}`},
		{parts[0] + "." + parts[1] + ".", uint16(len(valid) - 1), 0, 'B', `{"alg":"none"}`, `{"sub":"","exp":1900000000}`},
		{parts[0] + "." + parts[1], uint16(len(valid) - 1), 0, 'C', `{"alg":"HS512","typ":"JWT"}`, `{"sub":"bob","exp":1}`},
		{valid + ".", uint16(len(valid) - 1), 0, 'D', `{"typ":"JWT","alg":"HS256"}`, `{"sub":"bob"}`},
		{valid + "\n", uint16(len(valid) - 1), 1, '\n', `{"alg":"HS256","typ":"JWT","kid":"x"}`, `{"sub":"bob","exp":"1900000000"}`},
		{" " + valid, uint16(len(parts[0])), 2, '.', `{"alg": "HS256", "typ": "JWT"}`, `null`},
		{strings.ToUpper(valid), uint16(len(parts[0]) + 1 + len(parts[1])), 1, '=', `{"alg":"HS256","typ":"JWT"} `, `[]`},
		{"a.b.c", 10, 0, 0, `{"alg":"hs256","typ":"JWT"}`, `{"sub":"bob","exp":1.9e9}`},
		{"..", 20, 0, 0xff, ``, `{"sub":"bob","exp":99999999999999999999999}`},
		{"...", 30, 2, 'a', `{}`, `{"sub":"bob","exp":-1}`},
		{"\x00.\x00.\x00", 40, 0, '+', `{"alg":"HS256","typ":"JWT"`, `{"sub":"bob","exp":1900000000,"sub":""}`},
		{"\xff\xfe.\xff.\xfe", 50, 0, '/', "\xff", `{"sub":"b\u0000b","exp":1900000000}`},
		{"Bearer " + valid, 60, 1, '\r', `{"alg":"HS256","typ":"JWT","alg":"none"}`, `{"sub":"bob","exp":1900000000,"roles":"OPERATOR"}`},
		{parts[0] + "." + parts[1] + "." + parts[2] + "=", 70, 0, '-', `{"alg":"HS256","typ":"JWT"}`, "\xff"},
		{strings.Repeat("A", 10000), 80, 0, '_', `{"alg":"HS256","typ":"JWT"}`, `{"sub":"` + strings.Repeat("x", 5000) + `","exp":1900000000}`},
		{"%2e%2e/", 90, 1, '%', "../", "../"},
		{spare, uint16(len(parts[0]) + 1 + len(parts[1]) + 1), 1, '\r', `{"alg":"HS256","typ":"JWT"}`, `{"sub":"bob","exp":1900000000}`},
	} {
		f.Add(seed.token, seed.pos, seed.op, seed.b, seed.header, seed.payload)
	}
	f.Fuzz(func(t *testing.T, token string, pos uint16, op uint8, b byte, header, payload string) {
		if len(token) > 1<<14 || len(header) > 1<<10 || len(payload) > 1<<14 {
			return
		}
		// Any string.
		c, err := s.Verify(token, fuzzNow)
		if err == nil && token != valid {
			t.Fatalf("accepted %q (claims %+v), which was never signed", token, c)
		}
		checkVerify(t, c, err)

		// The valid token, mutated once.
		mutated := mutate(valid, int(pos), op, b)
		c, err = s.Verify(mutated, fuzzNow)
		if err == nil && mutated != valid {
			t.Fatalf("accepted %q, the valid token mutated (op %d at %d with %q)", mutated, op%3, pos, b)
		}
		checkVerify(t, c, err)

		// A right MAC over another header.
		h := enc.EncodeToString([]byte(header))
		signing := h + "." + parts[1]
		forged := signing + "." + enc.EncodeToString(s.mac(signing))
		c, err = s.Verify(forged, fuzzNow)
		if err == nil && forged != valid {
			t.Fatalf("accepted header %q", header)
		}
		checkVerify(t, c, err)
		// The same with no signature at all (alg none).
		if _, err := s.Verify(signing+".", fuzzNow); err == nil {
			t.Fatalf("accepted an unsigned token with header %q", header)
		}

		// A right MAC over any payload.
		signing = header + "." + enc.EncodeToString([]byte(payload))
		c, err = s.Verify(signing+"."+enc.EncodeToString(s.mac(signing)), fuzzNow)
		checkVerify(t, c, err)
		if err == nil && (c.Subject == "" || c.Expires <= fuzzNow.Unix()) {
			t.Fatalf("accepted payload %q: claims %+v", payload, c)
		}
	})
}

// mutate changes s once at pos: op 0 replaces the byte there with b, 1
// inserts b before it, 2 removes it.
func mutate(s string, pos int, op uint8, b byte) string {
	c := string([]byte{b})
	if len(s) == 0 {
		return c
	}
	pos %= len(s) + 1
	switch op % 3 {
	case 0:
		if pos == len(s) {
			return s + c
		}
		return s[:pos] + c + s[pos+1:]
	case 1:
		return s[:pos] + c + s[pos:]
	default:
		if pos == len(s) {
			return s[:pos-1]
		}
		return s[:pos] + s[pos+1:]
	}
}

// checkVerify asks of every answer: claims or a known error, never both.
func checkVerify(t *testing.T, c Claims, err error) {
	t.Helper()
	if err == nil {
		if c.Subject == "" || c.Expires <= fuzzNow.Unix() {
			t.Fatalf("accepted claims %+v", c)
		}
		return
	}
	if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrSignature) && !errors.Is(err, ErrExpired) {
		t.Fatalf("unexpected error %v", err)
	}
	if c.Subject != "" || c.Org != "" || c.Roles != nil || c.Expires != 0 {
		t.Fatalf("claims %+v returned with error %v", c, err)
	}
}
