package idem

import (
	"context"
	"errors"
	"regexp"
	"slices"
	"strings"
	"testing"

	"google.golang.org/grpc/metadata"

	"github.com/selfserve/selfserve/services/kit/errs"
	"github.com/selfserve/selfserve/services/kit/kv"
)

// validRequestID is the request id grammar, written apart from RequestID's loop.
var validRequestID = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

// FuzzRequestID: RequestID never panics, takes the body's id before the
// Idempotency-Key header, accepts exactly 1 to 128 bytes of [A-Za-z0-9._:-]
// and refuses anything else as INVALID_REQUEST_ID on request_id. An accepted
// id holds no key separator: its key splits back into method, caller and id.
func FuzzRequestID(f *testing.F) {
	max := strings.Repeat("k", MaxLen)
	for _, s := range []struct {
		body, header string
		withHeader   bool
	}{
		{"r1", "", false},
		{"", "order-42", true},
		{"body", "header", true},
		{"", "", true},
		{"", "", false},
		{max, "", false},
		{max + "k", "", false},
		{"", max + "k", true},
		{"Aa0._:-", "", false},
		{"550e8400-e29b-41d4-a716-446655440000", "", false},
		{"urn:uuid:550e8400.e29b", "", false},
		{"a b", "", false},
		{" r1", "", false},
		{"r1\n", "", false},
		{"r1\x00", "", false},
		{"\x00", "ok", true},
		{"", "\x00", true},
		{"é", "", false},
		{"\xff\xfe", "", false},
		{"../etc", "", false},
		{"%41", "", false},
		{"a/b", "", false},
		{"a+b=", "", false},
		{"ｒ1", "", false},
		{"r1\u200b", "", false},
		{"", "bad key", true},
		{strings.Repeat("é", 64), "", false},
		{strings.Repeat("x", 1<<16), "", false},
	} {
		f.Add(s.body, s.header, s.withHeader)
	}
	f.Fuzz(func(t *testing.T, body, header string, withHeader bool) {
		if len(body) > 1<<17 || len(header) > 1<<17 {
			return
		}
		ctx := context.Background()
		if withHeader {
			// A second value must never be read in place of the first.
			ctx = metadata.NewIncomingContext(ctx, metadata.MD{Header: {header, "second-value"}})
		}
		want := body
		if want == "" && withHeader {
			want = header
		}
		id, err := RequestID(ctx, body)
		switch {
		case want == "":
			if id != "" || err != nil {
				t.Fatalf("RequestID(%q, %q) = %q, %v; want no id", body, header, id, err)
			}
		case validRequestID.MatchString(want):
			if id != want || err != nil {
				t.Fatalf("RequestID(%q, %q) = %q, %v; want %q", body, header, id, err, want)
			}
		default:
			var e *errs.Error
			if !errors.As(err, &e) || e.Reason != errs.InvalidRequestID || e.Metadata["field"] != "request_id" {
				t.Fatalf("RequestID(%q, %q) = %q, %v; want INVALID_REQUEST_ID on request_id", body, header, id, err)
			}
			if id != "" {
				t.Fatalf("RequestID(%q, %q) = %q with an error", body, header, id)
			}
			return
		}
		if id == "" {
			if NewKey("M", "contoso/alice", id) != nil {
				t.Fatal("NewKey of no id is not nil")
			}
			return
		}
		if len(id) > MaxLen {
			t.Fatalf("accepted %d bytes", len(id))
		}
		key := NewKey("M", "contoso/alice", id)
		if got := kv.Split(key); !slices.Equal(got, []string{"M", "contoso/alice", id}) {
			t.Fatalf("NewKey(%q) splits into %q", id, got)
		}
	})
}
