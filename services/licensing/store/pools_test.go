package store

import (
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	licensingv1 "github.com/selfserve/selfserve/gen/go/selfserve/licensing/v1"
	"github.com/selfserve/selfserve/services/kit/kv"
)

// openStore opens a licensing store in a temporary directory, closed when
// the test ends.
func openStore(t *testing.T) *Store {
	t.Helper()
	st, err := Open(filepath.Join(t.TempDir(), "licensing.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// An assignment stores its time alone; reading it back gives the user's
// name and current display name, the pool and its product. One stored whole,
// as before, reads the same.
func TestAssignmentsStoreTheirTimeAlone(t *testing.T) {
	st := openStore(t)
	now := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	pool := &licensingv1.Pool{Name: "organizations/contoso/licenses/s-1", Subscription: "organizations/contoso/subscriptions/s-1",
		Product: "products/pro", Purchaser: "organizations/contoso/users/max", TotalLicenses: 5}
	max := &licensingv1.User{Name: "organizations/contoso/users/max", DisplayName: "Max", Email: "max@contoso.example"}
	ann := &licensingv1.User{Name: "organizations/contoso/users/ann", DisplayName: "Ann", Email: "ann@contoso.example"}
	err := st.DB.Update(func(tx kv.Tx) error {
		for id, u := range map[string]*licensingv1.User{"max": max, "ann": ann} {
			if err := InsertUser(tx, "contoso", id, u, now); err != nil {
				return err
			}
		}
		if err := PutPool(tx, "contoso", "s-1", pool, now); err != nil {
			return err
		}
		if err := Assign(tx, "contoso", "s-1", pool, []*licensingv1.User{max}, now); err != nil {
			return err
		}
		// ann's, as a store written before kept it: every field, and a
		// display name she has since changed.
		old := &licensingv1.Assignment{User: ann.GetName(), UserDisplayName: "Ann Old", AssignTime: timestamppb.New(now),
			License: pool.GetName(), Product: pool.GetProduct()}
		if err := kv.Put(tx.Bucket(assignmentsBucket), kv.Key("contoso", "s-1", "ann"), old); err != nil {
			return err
		}
		return tx.Bucket(userAssignments).Put(kv.Key("contoso", "ann", "s-1"), nil)
	})
	if err != nil {
		t.Fatal(err)
	}
	err = st.DB.View(func(tx kv.Tx) error {
		stored := tx.Bucket(assignmentsBucket).Get(kv.Key("contoso", "s-1", "max"))
		if want, _ := proto.Marshal(&licensingv1.Assignment{AssignTime: timestamppb.New(now)}); string(stored) != string(want) {
			t.Errorf("stored %x, want the time alone %x", stored, want)
		}
		as, _, err := ListPoolAssignments(tx, "contoso", "s-1", pool, nil, 10)
		if err != nil {
			return err
		}
		want := []*licensingv1.Assignment{
			{User: ann.GetName(), UserDisplayName: "Ann", AssignTime: timestamppb.New(now), License: pool.GetName(), Product: "products/pro"},
			{User: max.GetName(), UserDisplayName: "Max", AssignTime: timestamppb.New(now), License: pool.GetName(), Product: "products/pro"},
		}
		for i := range want {
			if i >= len(as) || !proto.Equal(as[i], want[i]) {
				t.Fatalf("ListPoolAssignments: %v, want %v", as, want)
			}
		}
		mine, _, err := ListUserAssignments(tx, "contoso", "max", nil, 10)
		if err != nil {
			return err
		}
		if len(mine) != 1 || !proto.Equal(mine[0], want[1]) {
			t.Fatalf("ListUserAssignments: %v, want %v", mine, want[1])
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A pool is stored without the two names its key gives, and read (alone or
// in a page) with them; a pool stored whole before reads the same.
func TestPoolsStoreNoNamesTheirKeyGives(t *testing.T) {
	st := openStore(t)
	now := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	mk := func(id string) *licensingv1.Pool {
		return &licensingv1.Pool{Name: "organizations/contoso/licenses/" + id, Subscription: "organizations/contoso/subscriptions/" + id,
			Product: "products/pro", Purchaser: "organizations/contoso/users/max", TotalLicenses: 5}
	}
	newer, older := mk("s-1"), mk("s-2")
	err := st.DB.Update(func(tx kv.Tx) error {
		if err := PutPool(tx, "contoso", "s-1", newer, now); err != nil {
			return err
		}
		older.CreateTime, older.UpdateTime = timestamppb.New(now), timestamppb.New(now)
		return kv.Put(tx.Bucket(poolsBucket), kv.Key("contoso", "s-2"), older) // as stored before
	})
	if err != nil {
		t.Fatal(err)
	}
	if newer.GetName() == "" || newer.GetSubscription() == "" {
		t.Fatalf("PutPool left the caller's pool without its names: %v", newer)
	}
	st.DB.View(func(tx kv.Tx) error {
		var stored licensingv1.Pool
		if err := proto.Unmarshal(tx.Bucket(poolsBucket).Get(kv.Key("contoso", "s-1")), &stored); err != nil {
			t.Fatal(err)
		}
		if stored.Name != "" || stored.Subscription != "" || stored.Product != "products/pro" {
			t.Errorf("stored %v, want no names and the product", &stored)
		}
		for _, want := range []*licensingv1.Pool{newer, older} {
			got, err := GetPool(tx, "contoso", want.GetName()[len("organizations/contoso/licenses/"):])
			if err != nil {
				t.Fatal(err)
			}
			if !proto.Equal(got, want) {
				t.Errorf("GetPool = %v, want %v", got, want)
			}
		}
		page, _, err := ListPools(tx, "contoso", nil, 10, func(*licensingv1.Pool) bool { return true })
		if err != nil || len(page) != 2 || !proto.Equal(page[0], newer) || !proto.Equal(page[1], older) {
			t.Errorf("ListPools = %v, %v", page, err)
		}
		return nil
	})
}
