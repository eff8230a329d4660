package page

import (
	"bytes"
	"encoding/base64"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/selfserve/selfserve/services/kit/errs"
)

// FuzzCursor: Cursor never panics on any token and either refuses it as
// INVALID_PAGE_TOKEN or returns the non-empty cursor it holds; a token made by
// Token gives its cursor back for its own binding and is refused for any
// other; Size never panics and stays within 1 to MaxSize.
//
// The bindings compared are made by Binding from two fuzzed lists of parts,
// as the services make them: a method, a parent and a filter.
func FuzzCursor(f *testing.F) {
	valid := Token(Binding("ListUsers", "organizations/contoso", ""), []byte("contoso\x00bob"))
	for _, s := range []struct {
		token  string
		cursor []byte
		parent string
		filter string
		other  string
		otherF string
		size   int32
	}{
		{valid, []byte("contoso\x00bob"), "organizations/contoso", "", "organizations/fabrikam", "", 50},
		{"", []byte("k"), "organizations/contoso", "ACTIVE", "organizations/contoso", "", 0},
		{"", nil, "", "", "", "", 1},
		{"AQ", []byte{0}, "a", "b", "a\x00b", "", -1},
		{"AQAAAAAAAAAAAA", []byte{0xff, 0xfe}, "a\x00", "b", "a", "", math.MaxInt32},
		{"AQAAAAAAAAAAAAA", bytes.Repeat([]byte{0}, 64), "a", "\x00b", "a\x00", "", math.MinInt32},
		{valid + "=", []byte("x"), "organizations/contoso", "", "organizations/contoso/", "", 1000},
		{valid[:len(valid)-1], []byte("x"), "p", "q", "P", "", 1001},
		{"%%%", []byte("x"), "p", "", "p ", "", 999},
		{"../../etc/passwd", []byte("../"), "../", "%", "..", "", 2},
		{"AQ==", []byte("\xff"), "\xff\xfe", "é", "e\u0301", "", 1},
		{"Ag" + valid[2:], []byte("contoso"), "organizations/contoso", "", "", "", 3},
		{"a+b/c", []byte("a"), "x", "y", "z", "", 4},
		{"\x00", []byte("\x00"), "\x00", "\x00", "", "", 5},
		{strings.Repeat("A", 4096), bytes.Repeat([]byte("k"), 4096), strings.Repeat("p", 1000), "", "q", "", 6},
		{"AQ\n" + valid[2:], []byte("z"), "a", "", "b", "", 7},
	} {
		f.Add(s.token, s.cursor, s.parent, s.filter, s.other, s.otherF, s.size)
	}
	f.Fuzz(func(t *testing.T, token string, cursor []byte, parent, filter, other, otherFilter string, size int32) {
		if len(token) > 1<<14 || len(cursor) > 1<<12 {
			return
		}
		parts := []string{"ListThings", parent, filter}
		bind := Binding(parts...)
		otherParts := []string{"ListThings", other, otherFilter}
		otherBind := Binding(otherParts...)

		// Any token.
		got, err := Cursor(token, bind)
		switch {
		case token == "":
			if got != nil || err != nil {
				t.Fatalf("Cursor(\"\") = %q, %v; want the first page", got, err)
			}
		case err != nil:
			wantInvalidToken(t, err)
			if got != nil {
				t.Errorf("Cursor(%q) = %q with error %v", token, got, err)
			}
		default:
			if len(got) == 0 {
				t.Errorf("Cursor(%q) accepted an empty cursor", token)
			}
			raw, derr := base64.RawURLEncoding.DecodeString(token)
			if derr != nil {
				t.Fatalf("Cursor(%q) accepted a token that is not base64: %v", token, derr)
			}
			if want := append(append([]byte{version}, bind...), got...); !bytes.Equal(raw, want) {
				t.Errorf("Cursor(%q) = %q, but the token holds %x", token, got, raw)
			}
		}

		// A token of ours.
		tok := Token(bind, cursor)
		got, err = Cursor(tok, bind)
		if len(cursor) == 0 {
			if err == nil {
				t.Errorf("Cursor(Token(b, empty)) = %q, want it refused", got)
			} else {
				wantInvalidToken(t, err)
			}
		} else if err != nil || !bytes.Equal(got, cursor) {
			t.Errorf("Cursor(Token(b, %q)) = %q, %v", cursor, got, err)
		}
		if strings.ContainsAny(tok, "+/=\x00\n") {
			t.Errorf("Token %q is not URL-safe", tok)
		}

		// The same token for another request.
		if !slices.Equal(parts, otherParts) {
			if got, err := Cursor(tok, otherBind); err == nil {
				t.Errorf("a token for %q was accepted for %q, cursor %q", parts, otherParts, got)
			} else {
				wantInvalidToken(t, err)
			}
		}

		n, err := Size(size)
		switch {
		case size < 0:
			if err == nil || errs.ReasonOf(err) != errs.InvalidField.Name {
				t.Errorf("Size(%d) = %d, %v; want INVALID_FIELD", size, n, err)
			}
		case err != nil:
			t.Errorf("Size(%d): %v", size, err)
		case n < 1 || n > MaxSize:
			t.Errorf("Size(%d) = %d, out of 1..%d", size, n, MaxSize)
		case size == 0 && n != DefaultSize, size > 0 && size <= MaxSize && n != int(size), size > MaxSize && n != MaxSize:
			t.Errorf("Size(%d) = %d", size, n)
		}
	})
}

func wantInvalidToken(t *testing.T, err error) {
	t.Helper()
	var e *errs.Error
	if !errors.As(err, &e) || e.Reason != errs.InvalidPageToken || e.Metadata["field"] != "page_token" {
		t.Errorf("error %v, want INVALID_PAGE_TOKEN on page_token", err)
	}
}
