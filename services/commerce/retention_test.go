package commerce_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	commercev1 "github.com/selfserve/selfserve/gen/go/selfserve/commerce/v1"
	"github.com/selfserve/selfserve/services/commerce"
	"github.com/selfserve/selfserve/services/kit/auth"
)

// TestAuditRetention: events older than the retention (13 months) go, in
// batches, in every organization; newer ones, and their names, stay; a
// store without retention keeps everything.
func TestAuditRetention(t *testing.T) {
	signer := newSigner(t)
	h := open(t, t.TempDir(), signer, false, func(c *commerce.Config) { c.AuditRetentionMonths = commerce.DefaultAuditRetentionMonths }).harness
	ctx := h.service(t)
	now := time.Now().UTC()
	at := func(e *commercev1.Event, tm time.Time) *commercev1.Event {
		e.CreateTime = timestamppb.New(tm)
		return e
	}
	const old = 2500 // more than one batch
	for _, org := range []string{"contoso", "fabrikam"} {
		for lo := 0; lo < old/2; lo += 500 {
			var batch []*commercev1.Event
			for i := lo; i < min(lo+500, old/2); i++ {
				batch = append(batch, at(event(org, fmt.Sprintf("old-%04d", i), 0), now.AddDate(0, -14, 0).Add(time.Duration(i)*time.Second)))
			}
			record(t, h, ctx, batch...)
		}
		record(t, h, ctx,
			at(event(org, "a-year-ago", 0), now.AddDate(-1, 0, 0)),
			at(event(org, "just-inside", 0), now.AddDate(0, -13, 0).Add(time.Hour)),
			at(event(org, "today", 0), now))
	}
	removed, err := h.comp.PurgeEvents(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if removed != old {
		t.Fatalf("removed %d events, want the %d older than 13 months", removed, old)
	}
	for _, org := range []string{"contoso", "fabrikam"} {
		got, _ := feed(t, h, h.user(t, org, "ada", auth.GlobalAdmin), org, 100)
		want := fmt.Sprintf("[organizations/%[1]s/events/today organizations/%[1]s/events/a-year-ago organizations/%[1]s/events/just-inside]", org)
		if fmt.Sprint(got) != want {
			t.Fatalf("%s's feed after the purge: %v, want %s", org, got, want)
		}
	}
	// The purged events' names went with them; the kept ones' stayed.
	if n := record(t, h, ctx, at(event("contoso", "old-0000", 0), now.AddDate(0, -14, 0))); n != 1 {
		t.Fatalf("a purged event sent again: recorded %d, want 1 (its name is gone with it)", n)
	}
	if n := record(t, h, ctx, at(event("contoso", "today", 0), now)); n != 0 {
		t.Fatalf("a kept event sent again: recorded %d, want 0", n)
	}
	if again, err := h.comp.PurgeEvents(context.Background()); err != nil || again != 1 {
		t.Fatalf("the next run removed %d (%v), want the one sent again", again, err)
	}
	if again, err := h.comp.PurgeEvents(context.Background()); err != nil || again != 0 {
		t.Fatalf("a second run removed %d (%v), want 0", again, err)
	}

	// Without retention nothing goes.
	keep := serve(t, t.TempDir(), signer)
	record(t, keep, keep.service(t), at(event("contoso", "ancient", 0), now.AddDate(-5, 0, 0)))
	if n, err := keep.comp.PurgeEvents(context.Background()); err != nil || n != 0 {
		t.Fatalf("no retention: removed %d (%v)", n, err)
	}
}
