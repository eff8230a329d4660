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

// An assignment stores its time alone; reading it back gives the user's
// name and current display name, the pool and its product. One stored whole,
// as before, reads the same.
func TestAssignmentsStoreTheirTimeAlone(t *testing.T) {
	st, err := Open(filepath.Join(t.TempDir(), "licensing.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	pool := &licensingv1.Pool{Name: "organizations/contoso/licenses/s-1", Subscription: "organizations/contoso/subscriptions/s-1",
		Product: "products/pro", Purchaser: "organizations/contoso/users/max", TotalLicenses: 5}
	max := &licensingv1.User{Name: "organizations/contoso/users/max", DisplayName: "Max", Email: "max@contoso.example"}
	ann := &licensingv1.User{Name: "organizations/contoso/users/ann", DisplayName: "Ann", Email: "ann@contoso.example"}
	err = st.DB.Update(func(tx kv.Tx) error {
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
