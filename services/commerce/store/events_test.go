package store_test

import (
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/selfserve/selfserve/services/kit/kv"
	"google.golang.org/protobuf/types/known/timestamppb"

	commercev1 "github.com/selfserve/selfserve/gen/go/selfserve/commerce/v1"
	"github.com/selfserve/selfserve/services/commerce/audit"
	"github.com/selfserve/selfserve/services/commerce/store"
	"github.com/selfserve/selfserve/services/kit/errs"
)

func open(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "commerce.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

var base = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

func ev(org, id string, at time.Duration) *commercev1.Event {
	return &commercev1.Event{
		Name:       "organizations/" + org + "/events/" + id,
		Type:       commercev1.Event_SUBSCRIPTION_RENEWED,
		CreateTime: timestamppb.New(base.Add(at)),
	}
}

func insert(t *testing.T, st *store.Store, events ...*commercev1.Event) (fresh int) {
	t.Helper()
	err := st.DB.Update(func(tx kv.Tx) error {
		for _, e := range events {
			ok, err := store.InsertEvent(tx, e)
			if err != nil {
				return err
			}
			if ok {
				fresh++
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return fresh
}

func list(t *testing.T, st *store.Store, org string, before []byte, size int) (ids []string, next []byte) {
	t.Helper()
	err := st.DB.View(func(tx kv.Tx) error {
		events, n, err := store.ListEvents(tx, org, before, size)
		for _, e := range events {
			ids = append(ids, e.Name[len("organizations/"+org+"/events/"):])
		}
		next = n
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids, next
}

func TestEventsByBusinessTime(t *testing.T) {
	st := open(t)
	described := ev("acme", "b", time.Minute)
	described.Description = "from the sender"
	// Same time: ties go by id. Neighbouring organization ids never mix in.
	if n := insert(t, st, ev("acme", "c", 2*time.Hour), described, ev("acme", "a", time.Minute), ev("acme", "d", 0),
		ev("acme-2", "x", time.Hour), ev("acm", "y", time.Hour), ev("acmf", "z", time.Hour)); n != 7 {
		t.Fatalf("inserted %d, want 7", n)
	}
	if n := insert(t, st, ev("acme", "a", time.Minute), ev("acme", "a", 5*time.Hour)); n != 0 {
		t.Fatalf("a recorded name went in again (%d)", n)
	}
	var all []string
	var before []byte
	for {
		ids, next := list(t, st, "acme", before, 3)
		all = append(all, ids...)
		if next == nil {
			break
		}
		before = next
	}
	if got := fmt.Sprint(all); got != "[c b a d]" {
		t.Fatalf("order %s", got)
	}
	if ids, next := list(t, st, "acme", nil, 4); len(ids) != 4 || next != nil {
		t.Fatalf("an exact page has a next cursor: %v %q", ids, next)
	}
	if ids, _ := list(t, st, "nobody", nil, 10); len(ids) != 0 {
		t.Fatalf("empty feed: %v", ids)
	}
	err := st.DB.View(func(tx kv.Tx) error {
		events, _, err := store.ListEvents(tx, "acme", nil, 10)
		for _, e := range events {
			if e.Description != "" {
				t.Errorf("description stored: %q", e.Description)
			}
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	// A cursor into another organization's events is refused.
	_, next := list(t, st, "acme", nil, 1)
	if next == nil {
		t.Fatal("no cursor with events left")
	}
	err = st.DB.View(func(tx kv.Tx) error {
		_, _, err := store.ListEvents(tx, "acme-2", next, 10)
		return err
	})
	if !errors.Is(err, errs.New(errs.InvalidPageToken, "")) {
		t.Fatalf("foreign cursor: %v", err)
	}
}

func TestInsertEventChecksAndNames(t *testing.T) {
	st := open(t)
	err := st.DB.Update(func(tx kv.Tx) error {
		_, err := store.InsertEvent(tx, &commercev1.Event{Name: "organizations/acme/events/e-1", Type: commercev1.Event_POLICY_CHANGED})
		return err
	})
	if !errors.Is(err, errs.New(errs.InvalidField, "")) {
		t.Fatalf("event without a time: %v", err)
	}
	var names []string
	err = st.DB.Update(func(tx kv.Tx) error {
		for range 2 {
			name, err := store.NewEventName(tx, "acme")
			if err != nil {
				return err
			}
			e := &commercev1.Event{Name: name, Type: commercev1.Event_POLICY_CHANGED, CreateTime: timestamppb.New(base)}
			if _, err := audit.Normalize("event", e); err != nil {
				return err
			}
			if _, err := store.InsertEvent(tx, e); err != nil {
				return err
			}
			names = append(names, name)
		}
		return nil
	})
	if err != nil || fmt.Sprint(names) != "[organizations/acme/events/commerce-0000000000000001 organizations/acme/events/commerce-0000000000000002]" {
		t.Fatalf("names %v %v", names, err)
	}
}
