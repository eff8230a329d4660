package errs

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/selfserve/selfserve/services/kit/locale"
)

func TestEveryReasonHasEveryLanguage(t *testing.T) {
	seen := map[string]bool{}
	for r, m := range messages {
		if seen[r.Name] {
			t.Errorf("reason %s declared twice", r.Name)
		}
		seen[r.Name] = true
		for i, s := range m {
			if s == "" {
				t.Errorf("reason %s has no message in %s", r.Name, locale.Code(locale.Supported[i]))
			}
		}
		if m[0] == m[1] || m[0] == m[2] || m[0] == m[3] {
			t.Errorf("reason %s: a translation equals the English text", r.Name)
		}
	}
	if missing := catalog.Missing(); len(missing) > 0 {
		t.Errorf("missing translations: %v", missing)
	}
	for r, m := range messages {
		for i, lang := range locale.Supported {
			if got := Localize(r, lang); got != m[i] {
				t.Errorf("Localize(%s, %s) = %q, want %q", r.Name, lang, got, m[i])
			}
		}
	}
}

func details(t *testing.T, s *status.Status) (*errdetails.ErrorInfo, *errdetails.LocalizedMessage) {
	t.Helper()
	var info *errdetails.ErrorInfo
	var msg *errdetails.LocalizedMessage
	for _, d := range s.Details() {
		switch d := d.(type) {
		case *errdetails.ErrorInfo:
			info = d
		case *errdetails.LocalizedMessage:
			msg = d
		}
	}
	if info == nil || msg == nil {
		t.Fatalf("status %v lacks ErrorInfo or LocalizedMessage", s.Proto())
	}
	return info, msg
}

func TestStatusOfDomainError(t *testing.T) {
	err := fmt.Errorf("wrapped: %w", New(TooManyUsers, "21 users").With("max", "20"))
	s := Status(err, "licensing.selfserve", locale.French)
	if s.Code() != codes.InvalidArgument {
		t.Fatalf("code %v", s.Code())
	}
	info, msg := details(t, s)
	if info.Reason != "TOO_MANY_USERS" || info.Domain != "licensing.selfserve" || info.Metadata["max"] != "20" {
		t.Fatalf("info %v", info)
	}
	if msg.Locale != "fr" || msg.Message != messages[TooManyUsers][1] {
		t.Fatalf("message %v", msg)
	}
	if !errors.Is(err, New(TooManyUsers, "")) || errors.Is(err, New(GuestUser, "")) {
		t.Fatal("errors.Is by reason")
	}
}

func TestStatusKeepsCalleeDetails(t *testing.T) {
	callee := Status(New(PaymentDeclined, "card declined"), "billing.selfserve", locale.English).Err()
	s := Status(callee, "commerce.selfserve", locale.Swedish)
	info, _ := details(t, s)
	if s.Code() != codes.FailedPrecondition || info.Domain != "billing.selfserve" || info.Reason != "PAYMENT_DECLINED" {
		t.Fatalf("callee status changed: %v", s.Proto())
	}
	if ReasonOf(callee) != "PAYMENT_DECLINED" {
		t.Fatal("ReasonOf status")
	}
}

func TestStatusAddsInfoToBareErrors(t *testing.T) {
	s := Status(status.Error(codes.Unimplemented, "nope"), "commerce.selfserve", locale.Chinese)
	info, msg := details(t, s)
	if s.Code() != codes.Unimplemented || info.Reason != "NOT_IMPLEMENTED" || msg.Locale != "zh-CN" {
		t.Fatalf("bare status: %v", s.Proto())
	}
	s = Status(errors.New("disk on fire at /secret/path"), "commerce.selfserve", locale.English)
	if s.Code() != codes.Internal || s.Message() != "internal error" {
		t.Fatalf("unknown error leaked: %v", s.Proto())
	}
}

func TestPermanent(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{New(BelowAssignedLicenses, "3 assigned"), true},
		{status.Error(codes.InvalidArgument, "bad"), true},
		{status.Error(codes.NotFound, "gone"), true},
		{status.Error(codes.PermissionDenied, "no"), true},
		{status.Error(codes.OutOfRange, "far"), true},
		{status.Error(codes.Unavailable, "down"), false},
		{status.Error(codes.DeadlineExceeded, "slow"), false},
		{status.Error(codes.Aborted, "conflict"), false},
		{New(Unavailable, "the store is unavailable"), false},
		{errors.New("connection reset"), false},
		{nil, false},
	} {
		if got := Permanent(tc.err); got != tc.want {
			t.Errorf("Permanent(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

func TestMetadataOf(t *testing.T) {
	e := New(PaymentDeclined, "declined").With("decline_code", "insufficient_funds")
	if got := MetadataOf(e, "decline_code"); got != "insufficient_funds" {
		t.Fatalf("a domain error: %q", got)
	}
	// Across the wire: the status a callee answered.
	wire := GRPC(e, "billing.selfserve", locale.English)
	if got := MetadataOf(wire, "decline_code"); got != "insufficient_funds" {
		t.Fatalf("a status: %q", got)
	}
	if got := MetadataOf(status.Error(codes.Unavailable, "down"), "decline_code"); got != "" {
		t.Fatalf("no ErrorInfo: %q", got)
	}
}

// The 20-users limit of API.md §4 is said in every language by the message
// of TOO_MANY_USERS, from the same number the check uses.
func TestTooManyUsersSaysTwenty(t *testing.T) {
	for _, tag := range locale.Supported {
		if msg := Localize(TooManyUsers, tag); !strings.Contains(msg, "20") {
			t.Errorf("%s: %q does not say 20", tag, msg)
		}
	}
}
